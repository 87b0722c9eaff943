//! Asking for a GPU that is not there (no `cuda` feature, or no driver / no device) is a typed
//! error that says what to do, never a panic. On a machine with a GPU and the feature, it loads.

use entroscope::model::{parse_device, LoadOptions};
use entroscope::prelude::*;

#[test]
fn device_cuda_is_available_or_a_typed_error() {
    for spec in ["cuda", "cuda:0", "gpu", "cuda:7"] {
        match parse_device(spec) {
            Ok(d) => assert!(d.is_cuda(), "{spec}: got {d:?}"),
            Err(e) => {
                assert!(matches!(e, Error::DeviceUnavailable { .. }), "{spec}: {e}");
                let msg = e.to_string();
                assert!(msg.contains("--device cpu"), "{spec}: no advice in `{msg}`");
            }
        }
    }
    assert!(LoadOptions::parse("cuda:x", "f32").is_err());
    assert!(matches!(
        parse_device("tpu"),
        Err(Error::InvalidParameter { .. })
    ));
}
