//! Decoding the floating-point dtypes a network's scalar can be converted from: `F16`, `BF16`,
//! `F32` and `F64`, each exactly into `f64`.

/// The dtypes [`decode`] reads, narrowest first.
pub const FLOAT_DTYPES: [&str; 4] = ["F16", "BF16", "F32", "F64"];

/// The value of every little-endian scalar of dtype `dtype` in `bytes`, exactly, as `f64`
/// (every `F16`, `BF16` and `F32` value is an `f64` value); `None` for a dtype not in
/// [`FLOAT_DTYPES`]. Signed zeros and infinities are kept, a NaN stays a NaN with its sign.
/// A trailing partial scalar is ignored.
///
/// # Examples
///
/// ```
/// // F16 0x3c00 is 1.0, 0x0001 the smallest subnormal 2^-24; BF16 0xc080 is -4.0.
/// let f16: Vec<f64> = nn_format::decode("F16", &[0x00, 0x3c, 0x01, 0x00]).unwrap();
/// assert_eq!(f16, [1.0, 2f64.powi(-24)]);
/// assert_eq!(nn_format::decode("BF16", &[0x80, 0xc0]).unwrap(), [-4.0]);
/// assert!(nn_format::decode("I64", &[0; 8]).is_none());
/// ```
pub fn decode(dtype: &str, bytes: &[u8]) -> Option<Vec<f64>> {
    let values = match dtype {
        "F16" => bytes
            .chunks_exact(2)
            .map(|b| f16_to_f64(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        "BF16" => bytes
            .chunks_exact(2)
            .map(|b| bf16_to_f64(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        "F32" => bytes
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        "F64" => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect(),
        _ => return None,
    };
    Some(values)
}

/// The IEEE 754 binary16 value with bits `bits` (1 sign, 5 exponent, 10 fraction bits), exactly.
///
/// Normal numbers (exponent 1..=30) are `±2^(e−15) · 1.f`: the same fraction, shifted to the
/// top of f64's 52 bits, under the re-biased exponent (`e + 1023 − 15`). Subnormals (exponent
/// 0) are `±f · 2^−24`, a product of exact `f64`s. Exponent 31 is ±infinity (fraction 0) or a
/// NaN, whose fraction (quiet bit first) becomes the top of the `f64` fraction.
pub fn f16_to_f64(bits: u16) -> f64 {
    let sign = u64::from(bits >> 15) << 63;
    let exponent = u64::from((bits >> 10) & 0x1f);
    let fraction = u64::from(bits & 0x3ff);
    match exponent {
        0 => {
            // 2^-24 = 1 / 16_777_216, exactly.
            let magnitude = fraction as f64 / 16_777_216.0;
            if sign == 0 { magnitude } else { -magnitude }
        }
        0x1f => f64::from_bits(sign | (0x7ff << 52) | (fraction << 42)),
        _ => f64::from_bits(sign | ((exponent + 1023 - 15) << 52) | (fraction << 42)),
    }
}

/// The bfloat16 value with bits `bits`: the top half of an `f32`'s bits, exactly.
pub fn bf16_to_f64(bits: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(bits) << 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every binary16 pattern against its definition, computed another way: `(-1)^s · 2^(e−15)
    /// · (1 + f/1024)` for normals, `(-1)^s · 2^−14 · f/1024` for subnormals (products of
    /// powers of two, exact in f64), infinity and NaN for exponent 31. The exhaustive numpy
    /// comparison is `tests/weights.rs`' `f16_file_converts_as_numpy_does_for_every_bit_pattern`.
    #[test]
    fn f16_every_bit_pattern_matches_the_definition() {
        for bits in 0..=u16::MAX {
            let (s, e, f) = (
                bits >> 15,
                i32::from((bits >> 10) & 0x1f),
                f64::from(bits & 0x3ff),
            );
            let sign = if s == 1 { -1.0 } else { 1.0 };
            let got = f16_to_f64(bits);
            match e {
                0x1f if f == 0.0 => assert_eq!(got, sign * f64::INFINITY, "{bits:#06x}"),
                0x1f => assert!(
                    got.is_nan() && got.is_sign_negative() == (s == 1),
                    "{bits:#06x}"
                ),
                0 => {
                    let want = sign * 2f64.powi(-14) * (f / 1024.0);
                    assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
                }
                _ => {
                    let want = sign * 2f64.powi(e - 15) * (1.0 + f / 1024.0);
                    assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
                }
            }
        }
        // Landmarks: the largest finite value, the smallest normal, the smallest subnormal.
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0400), 2f64.powi(-14));
        assert_eq!(f16_to_f64(0x8001), -(2f64.powi(-24)));
        assert_eq!(f16_to_f64(0x8000).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn bf16_is_the_top_half_of_an_f32() {
        for bits in 0..=u16::MAX {
            let got = bf16_to_f64(bits);
            let want = f32::from_bits(u32::from(bits) << 16);
            if want.is_nan() {
                assert!(got.is_nan() && got.is_sign_negative() == want.is_sign_negative());
            } else {
                assert_eq!(got.to_bits(), f64::from(want).to_bits(), "{bits:#06x}");
            }
        }
        assert_eq!(bf16_to_f64(0x3f80), 1.0);
        assert_eq!(bf16_to_f64(0x7f7f), f64::from(f32::from_bits(0x7f7f_0000)));
    }
}
