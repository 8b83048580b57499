//! Any bytes: the reader returns a history or an error, never panics; a
//! history it returns can be paired and checked without panicking either.
#![no_main]
use checker::check::{check, CheckOptions};
use checker::formats::{read_bytes, Format};
use checker::models::ModelSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = read_bytes("fuzz", data, Format::PorcupineKv) {
        let opts = CheckOptions { timeout: Some(std::time::Duration::from_millis(50)), ..Default::default() };
        let _ = check(&h, &ModelSpec::infer(&h), &opts);
    }
});
