#![no_main]

use checkers::format::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| splitbrain_fuzz::history::check_read(data, Format::PorcupineEtcd));
