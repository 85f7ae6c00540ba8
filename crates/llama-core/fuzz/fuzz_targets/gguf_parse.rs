//! Fuzz target: the GGUF parser must return Ok or a typed Err on any input, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llama_core::gguf::GgufFile;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::from_bytes(data.to_vec()) else {
        return;
    };
    let md = file.metadata();
    for (key, value) in md.iter() {
        let _ = (md.get_u32(key), md.get_i64(key), md.get_usize(key));
        let _ = (md.get_f32(key), md.get_bool(key), md.get_str(key));
        let _ = (md.get_str_array(key), md.get_f32_array(key));
        let _ = (
            md.get_i32_array(key),
            md.get_u32_array(key),
            md.get_u64_array(key),
        );
        let _ = value.to_string();
    }
    for t in file.tensors() {
        assert!(std::ptr::eq(file.tensor(t.name()).unwrap(), t));
        let data = file.tensor_data(t);
        assert_eq!(data.len() as u64, t.n_bytes());
        assert!(t.file_range().end <= file.file_size());
    }
});
