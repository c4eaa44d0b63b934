//! `${system.*}` values.

use super::at;
use crate::ids::{TaskInstanceId, WorkflowInstanceId};
use crate::params::{is_system_param, system_params, SystemContext, SYSTEM_PARAMS};
use chrono::{DateTime, Duration, TimeZone};
use chrono_tz::{Asia::Shanghai, Tz};

fn ctx(schedule: DateTime<Tz>, start: DateTime<Tz>) -> SystemContext {
    SystemContext {
        schedule_time: schedule,
        start_time: start,
        workflow_name: "etl".into(),
        workflow_instance_id: WorkflowInstanceId(42),
        task_instance_id: TaskInstanceId(7),
        attempt: 2,
    }
}

#[test]
fn values_for_a_scheduled_run() {
    let c = ctx(
        at(Shanghai, 2024, 3, 1, 2, 0, 0),
        at(Shanghai, 2024, 3, 1, 2, 0, 5),
    );
    let p = system_params(&c);
    let want: &[(&str, &str)] = &[
        ("system.datetime", "20240301020005"),
        ("system.biz.date", "20240229"),
        ("system.biz.curdate", "20240301"),
        ("system.workflow.name", "etl"),
        ("system.workflow.instance.id", "42"),
        ("system.task.instance.id", "7"),
        ("system.task.attempt", "2"),
        ("system.schedule.time", "20240301020000"),
    ];
    for (name, value) in want {
        assert_eq!(p[*name], *value, "{name}");
    }
    assert_eq!(p.len(), SYSTEM_PARAMS.len());
    assert!(SYSTEM_PARAMS.iter().all(|n| p.contains_key(*n)));
}

#[test]
fn dates_are_the_workflow_zone_wall_clock() {
    // 2023-12-31T18:00Z is 2024-01-01 02:00 in Shanghai.
    let schedule = chrono_tz::UTC
        .with_ymd_and_hms(2023, 12, 31, 18, 0, 0)
        .unwrap()
        .with_timezone(&Shanghai);
    let p = system_params(&ctx(schedule, schedule));
    assert_eq!(p["system.biz.curdate"], "20240101");
    assert_eq!(p["system.biz.date"], "20231231");
    assert_eq!(p["system.schedule.time"], "20240101020000");
}

#[test]
fn system_names() {
    assert!(is_system_param("system.biz.date"));
    assert!(!is_system_param("system.other"));
    assert!(!is_system_param("dt"));
}

#[test]
fn the_params_are_the_times_as_the_formats_print_them() {
    let tz: Tz = "Asia/Shanghai".parse().unwrap();
    for (y, mo, d, h, mi, s) in [(2026, 1, 2, 3, 4, 5), (1999, 12, 31, 23, 59, 59)] {
        let at = tz.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
        let ctx = SystemContext {
            schedule_time: at,
            start_time: at,
            workflow_name: "w".into(),
            workflow_instance_id: WorkflowInstanceId(7),
            task_instance_id: TaskInstanceId(8),
            attempt: 2,
        };
        let params = system_params(&ctx);
        let local = at.naive_local();
        let biz = local - Duration::days(1);
        assert_eq!(
            params["system.datetime"],
            local.format("%Y%m%d%H%M%S").to_string()
        );
        assert_eq!(params["system.schedule.time"], params["system.datetime"]);
        assert_eq!(
            params["system.biz.curdate"],
            local.format("%Y%m%d").to_string()
        );
        assert_eq!(params["system.biz.date"], biz.format("%Y%m%d").to_string());
        assert_eq!(params["system.task.attempt"], "2");
    }
}
