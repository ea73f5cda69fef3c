//! A failing disk and a full disk under the real binary: an `fsync` of the event store
//! fails with `EIO`, or its writes with `ENOSPC`. crisisd must refuse further appends
//! (docs/store.md: after a failed fsync the state on disk is unknown), say why, and
//! lose nothing it acknowledged — checked after a power cut and a restart.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::lazyfs::{Fault, FaultOp};
use crate::rounds::{Acked, Lab, Scope, check};
use crate::support::{Crisisd, http, token_add};

/// What a fault did to a running `serve`.
struct Outcome {
    lab: Lab,
    acked: Acked,
    /// The answers to the appends after the fault fired: (status, body).
    refused: Vec<(u16, String)>,
    /// `GET /readyz` after the fault fired.
    ready: (u16, String),
    /// crisisd's log.
    log: String,
    faults_fired: u64,
}

/// Registers passengers until `fault`, injected after the first ten, has fired and
/// three more appends were answered; then kill -9, a power cut, and a restart without
/// the fault that must take appends again.
fn run(fault: Fault) -> Outcome {
    let lab = Lab::new();
    let agent = token_add(&lab.kept(), "agent", "agent-ann").unwrap();
    let mount = lab.mount();
    let log_path = lab.base.path().join("crisisd.log");
    let mut server = Crisisd::serve(&lab.data(), None, &log_path);
    let mut acked = Acked::default();
    let mut refused = Vec::new();
    let register = |n: usize| {
        let passenger = format!("F{n}");
        let body = json!({"tier": "gold",
            "contact": {"name": format!("Name of {passenger}"), "email": "f@example.org",
                "phone": "+44 7700 900123", "language": "en-GB"},
            "consent": {"email": true, "sms": false, "phone": true, "app_push": false}});
        let path = format!("/v1/passengers/{passenger}/register_passenger");
        let answer =
            http(server.port, "POST", &path, &agent, &body.to_string()).expect("crisisd answers");
        (passenger, answer)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0.. {
        assert!(Instant::now() < deadline, "the fault never fired");
        if n == 10 {
            mount.control.inject(fault.clone());
        }
        let (passenger, (status, body)) = register(n);
        if status == 200 {
            assert!(
                refused.is_empty(),
                "an append was taken after one was refused: {body}"
            );
            acked
                .passengers
                .insert(passenger.clone(), format!("Name of {passenger}"));
            let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
            for event in answer["events"].as_array().unwrap() {
                acked
                    .events
                    .insert(event["id"].as_str().unwrap().parse().unwrap());
            }
        } else {
            refused.push((status, body));
            if refused.len() == 3 {
                break;
            }
        }
    }
    let ready = http(server.port, "GET", "/readyz", "", "").expect("crisisd answers /readyz");
    let faults_fired = mount.control.faults_fired();
    server.kill();
    mount.control.clear_faults();
    mount.control.power_cut(Some(3)).unwrap();
    mount.unmount().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprintln!(
        "{fault:?}: {} appends acknowledged, then answered {:?}; /readyz {}; crisisd logged:\n{}",
        acked.passengers.len(),
        refused.first(),
        ready.0,
        log.lines()
            .filter(|l| l.contains("ERROR"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let scope = Scope {
        models: true,
        sealed_only: None,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Err(failure) = check(&lab.kept(), &acked, &scope, &runtime) {
        panic!("after the fault and a power cut: {failure}\ncrisisd's log:\n{log}");
    }
    // A restart recovers from disk and takes appends again.
    let mount = lab.mount();
    let server = Crisisd::serve(&lab.data(), None, &log_path);
    let body = json!({"tier": "silver",
        "contact": {"name": "After", "email": "a@example.org", "phone": "+44 7700 900123", "language": "en-GB"},
        "consent": {"email": true, "sms": false, "phone": true, "app_push": false}});
    let after = http(
        server.port,
        "POST",
        "/v1/passengers/AFTER/register_passenger",
        &agent,
        &body.to_string(),
    );
    assert_eq!(
        after.as_ref().map(|a| a.0),
        Some(200),
        "appends after a restart: {after:?}"
    );
    drop(server);
    drop(mount);
    Outcome {
        lab,
        acked,
        refused,
        ready,
        log,
        faults_fired,
    }
}

fn eio_on_every_event_store_fsync() -> Fault {
    // Once is enough: after a failed fsync the store must refuse even though the next
    // fsync would succeed (the kernel may have dropped the unwritten pages).
    Fault {
        op: FaultOp::Fsync,
        path_contains: "data/db".into(),
        skip: 0,
        times: Some(1),
    }
}

fn enospc_on_event_store_writes() -> Fault {
    Fault {
        op: FaultOp::Write,
        path_contains: "data/db".into(),
        skip: 0,
        times: None,
    }
}

#[test]
fn eio_on_fsync_refuses_later_appends_and_loses_nothing_acknowledged() {
    let outcome = run(eio_on_every_event_store_fsync());
    assert_eq!(outcome.faults_fired, 1);
    assert!(
        outcome.acked.passengers.len() >= 10,
        "{:?}",
        outcome.acked.passengers
    );
    for (status, body) in &outcome.refused {
        assert_eq!(*status, 503, "{body}");
    }
    assert!(
        outcome.log.contains("fsync failed") && outcome.log.contains("Input/output error"),
        "the log says why: {}",
        outcome.log
    );
    drop(outcome.lab);
}

#[test]
fn eio_on_fsync_makes_readyz_say_why() {
    let outcome = run(eio_on_every_event_store_fsync());
    let (status, body) = &outcome.ready;
    assert_eq!(*status, 503, "{body}");
    assert!(body.contains("fsync") || body.contains("durable"), "{body}");
}

#[test]
fn enospc_on_write_fails_appends_and_loses_nothing_acknowledged() {
    let outcome = run(enospc_on_event_store_writes());
    assert!(outcome.faults_fired >= 1);
    for (status, body) in &outcome.refused {
        assert_eq!(*status, 503, "{body}");
    }
    assert!(
        outcome.log.contains("No space left on device"),
        "the log says the disk is full: {}",
        outcome.log
    );
}

#[test]
fn enospc_error_names_the_data_directory() {
    let outcome = run(enospc_on_event_store_writes());
    let data = outcome.lab.data();
    let data = data.to_str().unwrap();
    // What the operator reads: the answer to the refused append and the errors logged
    // (the startup warning names the master key file in the data directory: not these).
    let (_, answer) = &outcome.refused[0];
    assert!(answer.contains(data), "the refusal names {data}: {answer}");
    let errors: Vec<&str> = outcome
        .log
        .lines()
        .filter(|l| l.contains("ERROR"))
        .collect();
    assert!(
        errors.iter().any(|l| l.contains(data)),
        "an error logged names {data}: {errors:#?}"
    );
}
