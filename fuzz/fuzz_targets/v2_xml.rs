#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wechatpay_fuzz::v2_xml(data));
