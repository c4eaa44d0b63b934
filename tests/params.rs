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
