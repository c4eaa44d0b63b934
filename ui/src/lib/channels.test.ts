import { describe, expect, it } from "vitest";
import openapi from "../api/openapi.json";
import { ALERT_ON, CHANNEL_FORMS, CHANNEL_TYPES, channelBody, channelErrors, ruleBody, ruleErrors, type ChannelForm } from "./channels";

const channel = (type: ChannelForm["type"], values: ChannelForm["values"], name = "ops"): ChannelForm => ({ name, type, values });

describe("the channel form", () => {
  it("has a form for every type and every event kind of the API", () => {
    const schemas = openapi.components.schemas;
    expect([...CHANNEL_TYPES].sort()).toEqual([...schemas.AlertChannelType.enum].sort());
    expect(ALERT_ON).toEqual(schemas.AlertRuleRequest.properties.on.items.enum);
  });

  it("asks for each type's secret in a password field, and only for the settings the type takes", () => {
    for (const type of ["slack", "feishu", "dingtalk", "wecom"] as const) {
      expect(CHANNEL_FORMS[type].map((f) => [f.key, f.input])).toEqual([
        ["secret", "password"],
        ["settings.timeout_ms", "number"],
      ]);
    }
    for (const type of CHANNEL_TYPES) {
      for (const f of CHANNEL_FORMS[type]) if (f.key === "secret") expect(f.input).toBe("password");
    }
    expect(CHANNEL_FORMS.script.some((f) => f.key === "secret")).toBe(false);
  });

  it("builds the body of each type with its own fields only", () => {
    const values = { "settings.url": "http://127.0.0.1:9/hook", secret: "", "settings.timeout_ms": "2.5", "settings.to": "a@x.test" };
    expect(channelBody(channel("webhook", values))).toEqual({ name: "ops", type: "webhook", settings: { url: "http://127.0.0.1:9/hook", timeout_ms: 2500 } });
    expect(channelBody(channel("slack", { secret: " https://hooks.slack.test/T/B/x ", "settings.url": "ignored" }))).toEqual({
      name: "ops",
      type: "slack",
      settings: {},
      secret: "https://hooks.slack.test/T/B/x",
    });
    const mail = { "settings.smtp_host": "mx", "settings.smtp_port": "2525", "settings.smtp_tls": "none", "settings.from": "b@x.test", "settings.to": "ops@x.test, dba@x.test", "settings.username": "u", secret: "pw" };
    expect(channelBody(channel("email", mail))).toEqual({
      name: "ops",
      type: "email",
      settings: { smtp_host: "mx", smtp_port: 2525, smtp_tls: "none", username: "u", from: "b@x.test", to: ["ops@x.test", "dba@x.test"] },
      secret: "pw",
    });
  });

  it("names each missing or bad field before anything is sent", () => {
    expect(channelErrors(channel("slack", { secret: "https://h.test/x" }))).toEqual({});
    expect(channelErrors(channel("slack", {}))).toEqual({ secret: "Slack incoming webhook URL is needed" });
    expect(channelErrors(channel("webhook", {}))["settings.url"]).toMatch(/URL is needed/);
    expect(channelErrors(channel("webhook", { "settings.url": "http://h/", secret: "http://h/t" }))["settings.url"]).toMatch(/not both/);
    expect(channelErrors(channel("webhook", { "settings.url": "http://h/", "settings.timeout_ms": "61" }))["settings.timeout_ms"]).toMatch(/at most 60/);
    expect(channelErrors(channel("email", { "settings.smtp_host": "mx", "settings.from": "a@x", "settings.to": "b@x", "settings.smtp_port": "0" }))).toEqual({
      "settings.smtp_port": "a port from 1 to 65535",
    });
    expect(channelErrors(channel("email", { "settings.smtp_host": "mx", "settings.from": "a@x", "settings.to": "b@x", "settings.username": "u" })).secret).toMatch(/password/);
    expect(channelErrors(channel("script", {}, "bad name"))).toEqual({ name: "use letters, digits, _ - . only", "settings.script": "Script is needed" });
  });
});

describe("the rule form", () => {
  it("needs an event and a channel; its events go in the API's order", () => {
    expect(ruleErrors({ on: [], channel: "", workflow: "bad name" })).toEqual({ on: "choose at least one event", channel: "choose a channel", workflow: "use letters, digits, _ - . only" });
    expect(ruleBody({ on: ["task_failed", "instance_failed"], channel: "ops", workflow: " " })).toEqual({ on: ["instance_failed", "task_failed"], channel: "ops" });
    expect(ruleBody({ on: ["task_timeout"], channel: "ops", workflow: "nightly" })).toEqual({ on: ["task_timeout"], channel: "ops", workflow: "nightly" });
  });
});
