#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| splitbrain_fuzz::history::check_detect(data));
