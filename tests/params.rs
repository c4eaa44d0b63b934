//! Parameters in a real run: output params passed downstream, system params, and time
//! expressions, through `baton run`.

mod common;
use common::*;

#[test]
fn output_params_flow_to_every_downstream_task() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "out.yaml",
        r#"name: out
params: {rows: "0"}
tasks:
  - name: count
    type: python
    script: |
      print("counting")
      print("${setValue(rows=42)}")
      print("${setValue(label=two words)}")
  - name: middle
    type: noop
    depends_on: [count]
  - name: report
    type: shell
    depends_on: [middle]
    command: echo "rows=${rows} label=${label} wf=${system.workflow.name} attempt=${system.task.attempt}"
"#,
    );
    let out = baton(&["run", file.to_str().unwrap(), "--logs"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("rows=42 label=two words wf=out attempt=1"),
        "{stdout}"
    );
}

#[test]
fn time_expressions_use_the_workflow_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "dates.yaml",
        r#"name: dates
timezone: Asia/Shanghai
params:
  dt: "$[yyyyMMdd-1]"
tasks:
  - name: show
    type: shell
    command: |
      echo "dt=${dt} today=$[yyyy-MM-dd] biz=${system.biz.date}"
      TZ=Asia/Shanghai date -d yesterday +expected=%Y%m%d
"#,
    );
    let out = baton(&["run", file.to_str().unwrap(), "--logs"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let expected = stdout
        .lines()
        .find_map(|l| l.strip_prefix("expected="))
        .expect("the task printed the expected date")
        .to_string();
    assert!(stdout.contains(&format!("dt={expected} ")), "{stdout}");
    assert!(stdout.contains(&format!("biz={expected}")), "{stdout}");
}

#[test]
fn a_bad_time_expression_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.yaml",
        "name: bad\ntasks:\n  - {name: a, type: shell, command: 'echo $[yyyyMMdd-x]'}\n",
    );
    let out = baton(&["run", file.to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("bad.yaml: task `a`: $[yyyyMMdd-x]"),
        "{stderr}"
    );
    let tz = write(
        dir.path(),
        "tz.yaml",
        "name: tz\ntimezone: Mars/Olympus\ntasks:\n  - {name: a, type: noop}\n",
    );
    let out = baton(&["run", tz.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("unknown time zone `Mars/Olympus`"),
        "{:?}",
        text(&out)
    );
}

/// A start-time value that would run commands if a shell or python read it as code: command
/// substitutions, a `;`, quotes of every kind, globs, a `${…}` reference, backslashes and a
/// line break.
fn hostile(dir: &std::path::Path) -> String {
    let d = dir.display();
    format!(
        "a $(touch {d}/pwn1) ; touch {d}/pwn2 ' \" ` `touch {d}/pwn3` * ? [x] ~ ${{HOME}} $'q' \\n \\\\\n  second\tline \"\"\") ; import os; os.system('touch {d}/pwn4') #"
    )
}

#[test]
fn a_start_time_value_reaches_shell_and_python_tasks_as_exactly_that_string() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let shell = |name: &str, command: &str| {
        format!("  - name: {name}\n    type: shell\n    command: |\n      {command}\n")
    };
    let python = |name: &str, line: &str| {
        format!("  - name: {name}\n    type: python\n    script: |\n      {line}\n")
    };
    let tasks = [
        shell("bare", &format!("printf '%s' ${{v}} > {d}/bare")),
        shell("double", &format!("printf '%s' \"<${{v}}>\" > {d}/double")),
        shell("single", &format!("printf '%s' '<${{v}}>' > {d}/single")),
        shell("ansi_c", &format!("printf '%s' $'<${{v}}>' > {d}/ansi_c")),
        shell(
            "substitution",
            &format!("x=\"$(printf '%s' ${{v}})\"; printf '%s' \"$x\" > {d}/substitution"),
        ),
        shell(
            "here_doc",
            &format!("cat > {d}/here_doc <<EOF\n      <${{v}}>\n      EOF"),
        ),
        shell(
            "from_env",
            &format!("printf '%s' \"$BATON_PARAM_v\" > {d}/from_env"),
        ),
        python(
            "py_code",
            &format!("open('{d}/py_code', 'w').write(${{v}})"),
        ),
        python(
            "py_string",
            &format!("open('{d}/py_string', 'w').write(\"<${{v}}>\" + '''<${{v}}>''')"),
        ),
        python(
            "py_f_string",
            &format!("open('{d}/py_f_string', 'w').write(f\"<{{${{v}}}}>\")"),
        ),
    ];
    let file = write(
        dir.path(),
        "hostile.yaml",
        &format!(
            "name: hostile\nparams: {{v: ''}}\ntasks:\n{}",
            tasks.concat()
        ),
    );
    let value = hostile(dir.path());
    let out = baton(
        &[
            "run",
            file.to_str().unwrap(),
            "--param",
            &format!("v={value}"),
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let framed = format!("<{value}>");
    for name in ["bare", "substitution", "from_env", "py_code"] {
        assert_eq!(read(name), value, "{name}");
    }
    for name in ["double", "single", "ansi_c", "py_f_string"] {
        assert_eq!(read(name), framed, "{name}");
    }
    assert_eq!(read("here_doc"), format!("{framed}\n"));
    assert_eq!(read("py_string"), format!("{framed}{framed}"));
    for n in 1..=4 {
        assert!(
            !dir.path().join(format!("pwn{n}")).exists(),
            "pwn{n}: the value ran as code"
        );
    }
}

#[test]
fn a_switch_compares_values_and_never_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "switch.yaml",
        r#"name: sw
params: {rows: "150", env: "prod"}
tasks:
  - name: pick
    type: switch
    cases:
      - when: "${env} == 'dev' || ${rows} > 1000"
        then: [big]
      - when: "'${env}' == 'prod' && ${rows} > 100"
        then: [prod]
    default: [other]
  - {name: big, type: noop, depends_on: [pick]}
  - {name: prod, type: noop, depends_on: [pick]}
  - {name: other, type: noop, depends_on: [pick]}
"#,
    );
    let run = |params: &[&str]| {
        let mut args = vec!["run", file.to_str().unwrap()];
        for p in params {
            args.extend(["--param", p]);
        }
        let out = baton(&args, &[]);
        let (stdout, stderr) = text(&out);
        (out.status.code(), format!("{stdout}\n{stderr}"))
    };
    let (code, out) = run(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("case 2 holds"), "{out}");
    // A value that would make the first case hold if it were read as CEL is only a string.
    let (code, out) = run(&["env=dev' || true || '", "rows=1 || true"]);
    assert!(!out.contains("case 1 holds"), "{out}");
    assert!(!out.contains("case 2 holds"), "{out}");
    assert_ne!(code, Some(0), "{out}");
}

#[test]
fn a_task_sees_only_the_allowlisted_environment_of_its_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "env.yaml",
        "name: env\ntasks:\n  - {name: show, type: shell, command: 'echo \"secret=${DB_PASSWORD:-unset} db=${BATON_DATABASE:-unset} home=${HOME:+set}\"'}\n",
    );
    let secrets = [
        ("DB_PASSWORD", "hunter2"),
        ("BATON_DATABASE", "postgres://u:pw@h/db"),
    ];
    let out = baton(&["run", file.to_str().unwrap(), "--logs"], &secrets);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("secret=unset db=unset home=set"),
        "{stdout}"
    );
    let out = baton(
        &[
            "run",
            file.to_str().unwrap(),
            "--logs",
            "--task-env-pass",
            "DB_PASSWORD",
        ],
        &secrets,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("secret=hunter2 db=unset"), "{stdout}");
}

#[test]
fn logs_outbox_and_secret_are_for_the_service_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = write(
        dir.path(),
        "log.yaml",
        "name: log\ntasks:\n  - {name: a, type: shell, command: 'echo private'}\n",
    );
    let server = Standalone::start(&data, None, &[]);
    let id = server.start_workflow(&file, "log", &[]);
    let end = server.wait_end(id, std::time::Duration::from_secs(30));
    assert_eq!(end["instance"]["state"], "succeeded", "{end}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("logs")), 0o700);
    assert_eq!(mode(&data.join("outbox")), 0o700);
    assert_eq!(mode(&data.join("cluster.secret")), 0o600);
    let logs: Vec<_> = walk(&data.join("logs"));
    assert!(!logs.is_empty(), "the task wrote a log");
    for log in logs {
        assert_eq!(mode(&log), 0o600, "{}", log.display());
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
