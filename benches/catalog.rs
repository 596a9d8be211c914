//! The cost of a catalog look-up: by template shape, by a concrete path, by chain text,
//! and one typo-suggestion call, plus the pre-signing check of the seed request. Run:
//! `cargo bench --bench catalog`. The first look-up builds the shared indexes (measured
//! once, separately, as `build_indexes`); every figure after it is a warm look-up.

use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use http::Method;
use serde_json::{json, Map};
use wechatpay::catalog;

const SYNC: &str = "v3/payscore/serviceorder/{out_order_no}/sync";

fn lookups(c: &mut Criterion) {
    let started = Instant::now();
    let _ = catalog::find(&Method::GET, "v3/certificates");
    let _ = catalog::suggestions_for("v3/certificate");
    eprintln!("build_indexes (first use, once): {:?}", started.elapsed());

    let mut group = c.benchmark_group("catalog");
    // Calibration on this machine: one std HashMap probe (SipHash) with the same key.
    let map: std::collections::HashMap<&str, usize> = catalog::endpoints()
        .iter()
        .enumerate()
        .map(|(i, e)| (e.template(), i))
        .collect();
    group.bench_function("reference_hashmap_get", |b| {
        b.iter(|| map.get(black_box("v3/payscore/serviceorder/{out_order_no}/sync")))
    });
    group.bench_function("find_by_template", |b| {
        b.iter(|| {
            catalog::find(
                black_box(&Method::POST),
                black_box("v3/payscore/serviceorder/{id}/sync"),
            )
        })
    });
    group.bench_function("find_by_concrete_path", |b| {
        b.iter(|| {
            catalog::find_path(
                black_box(&Method::GET),
                black_box("/v3/pay/transactions/id/4200000001202011110000000001?mchid=1230000109"),
            )
        })
    });
    group.bench_function("find_by_chain_text", |b| {
        b.iter(|| {
            catalog::find_chain(
                black_box(&Method::POST),
                black_box("v3.payscore.serviceorder._out_order_no_.sync"),
            )
        })
    });
    group.bench_function("suggestions_for_typo", |b| {
        b.iter(|| {
            catalog::suggestions_for(black_box("v3/payscore/serviceorders/{out_order_no}/sync"))
        })
    });
    let mut params = Map::new();
    params.insert("out_order_no".into(), json!("1234323JKHDFE1243252"));
    let body = serde_json::to_vec(
        &json!({"appid": "wxd678efh567hg6787", "service_id": "500001",
        "type": "Order_Paid", "detail": {"paid_time": "20091225091210"}}),
    )
    .unwrap();
    group.bench_function("check_seed_request", |b| {
        b.iter(|| {
            catalog::check(
                &Method::POST,
                black_box(SYNC),
                &params,
                &[],
                Some(black_box(&body)),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
