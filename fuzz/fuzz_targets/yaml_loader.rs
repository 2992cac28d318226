#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| starling_fuzz::yaml_loader::run(data));
