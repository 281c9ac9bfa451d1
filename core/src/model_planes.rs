//! The form in which the browser downloads a model ("planes"): the ONNX file with the
//! bytes of its float weights regrouped by position, so that brotli sees the exponent
//! bytes together (they repeat) apart from the low mantissa bytes (they hardly do).
//! The SDK turns it back into the exact ONNX bytes and checks them against the
//! manifest's sha256 as before, so the engine loads the same file either way.
//!
//! Byte layout. The planes form of an ONNX file has the same length and the same bytes
//! except inside the `raw_data` (field 9) of every `TensorProto` in the main graph's
//! `initializer` list (`ModelProto` field 7, `GraphProto` field 5) whose `data_type`
//! (field 2) is 1, FLOAT, and whose `raw_data` length is a multiple of four. There the
//! `n` little-endian values `v[0..n]` are written as four planes of `n` bytes: byte 0 of
//! every value in order, then byte 1, byte 2 and byte 3. The protobuf framing is
//! untouched: no length changes. `models/planes.mjs` writes it at fetch time.
//!
//! Measured on the browser's three models (brotli quality 11): YuNet 199 219 → 185 196
//! bytes, Face Mesh V2 2 362 129 → 2 048 007, Blendshape V2 852 443 → 789 352.

use std::ops::Range;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an ONNX file's planes form: {0}")]
pub struct PlanesError(&'static str);

/// The ONNX bytes a planes form stands for.
pub fn decode(planes: &[u8]) -> Result<Vec<u8>, PlanesError> {
    let mut out = planes.to_vec();
    for span in float_weights(planes)? {
        let (src, n) = (&planes[span.clone()], span.len() / 4);
        for (i, value) in out[span].chunks_exact_mut(4).enumerate() {
            for (b, byte) in value.iter_mut().enumerate() {
                *byte = src[b * n + i];
            }
        }
    }
    Ok(out)
}

/// The planes form of ONNX bytes (what `models/planes.mjs` writes; here for the tests
/// that hold the two to each other).
pub fn encode(onnx: &[u8]) -> Result<Vec<u8>, PlanesError> {
    let mut out = onnx.to_vec();
    for span in float_weights(onnx)? {
        let (src, n) = (&onnx[span.clone()], span.len() / 4);
        let dst = &mut out[span];
        for (i, value) in src.chunks_exact(4).enumerate() {
            for (b, byte) in value.iter().enumerate() {
                dst[b * n + i] = *byte;
            }
        }
    }
    Ok(out)
}

/// Where the regrouped `raw_data` lie: the same places in both forms.
fn float_weights(file: &[u8]) -> Result<Vec<Range<usize>>, PlanesError> {
    let mut spans = Vec::new();
    for (field, graph) in fields(file, 0..file.len())? {
        let (7, Value::Bytes(graph)) = (field, graph) else {
            continue;
        };
        for (field, tensor) in fields(file, graph)? {
            let (5, Value::Bytes(tensor)) = (field, tensor) else {
                continue;
            };
            let (mut data_type, mut raw) = (0, None);
            for part in fields(file, tensor)? {
                match part {
                    (2, Value::Varint(t)) => data_type = t,
                    (9, Value::Bytes(r)) => raw = Some(r),
                    _ => {}
                }
            }
            match raw {
                Some(raw) if data_type == 1 && raw.len() % 4 == 0 => spans.push(raw),
                _ => {}
            }
        }
    }
    Ok(spans)
}

enum Value {
    Varint(u64),
    /// A length-delimited field's bytes, as a range of the whole file.
    Bytes(Range<usize>),
    Fixed,
}

/// The fields of the protobuf message at `at` in `file`, in order.
fn fields(file: &[u8], at: Range<usize>) -> Result<Vec<(u64, Value)>, PlanesError> {
    const PAST: PlanesError = PlanesError("a field runs past its message");
    let file = &file[..at.end];
    let mut pos = at.start;
    let mut out = Vec::new();
    while pos < file.len() {
        let key = varint(file, &mut pos)?;
        let value = match key & 7 {
            0 => Value::Varint(varint(file, &mut pos)?),
            wire @ (1 | 2 | 5) => {
                let len = match wire {
                    1 => 8,
                    5 => 4,
                    _ => usize::try_from(varint(file, &mut pos)?).map_err(|_| PAST)?,
                };
                let start = pos;
                pos = pos
                    .checked_add(len)
                    .filter(|p| *p <= file.len())
                    .ok_or(PAST)?;
                if wire == 2 {
                    Value::Bytes(start..pos)
                } else {
                    Value::Fixed
                }
            }
            _ => return Err(PlanesError("an unknown wire type")),
        };
        out.push((key >> 3, value));
    }
    Ok(out)
}

fn varint(file: &[u8], pos: &mut usize) -> Result<u64, PlanesError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *file
            .get(*pos)
            .ok_or(PlanesError("a field runs past its message"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(PlanesError("a number longer than ten bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model by hand: field 1 (ir_version 8), then the graph (field 7) holding a node
    /// (field 1, skipped), a FLOAT initializer of two values [1.0, -2.5] (dims 2, name
    /// "w", raw_data), an INT64 one whose raw_data must stay, and a FLOAT one of three
    /// bytes (not a whole value) that must stay too.
    fn model(raw: [u8; 8]) -> Vec<u8> {
        let mut float = vec![0x08, 0x02, 0x10, 0x01, 0x42, 0x01, b'w', 0x4a, 0x08];
        float.extend_from_slice(&raw);
        let int64 = [0x10, 0x07, 0x4a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8];
        let odd = [0x4a, 0x03, 9, 8, 7, 0x10, 0x01];
        let node = [0x0a, 0x02, 0x12, 0x00];
        let mut graph = node.to_vec();
        for t in [&float[..], &int64, &odd] {
            graph.push(0x2a);
            graph.push(t.len() as u8);
            graph.extend_from_slice(t);
        }
        let mut m = vec![0x08, 0x08, 0x3a, graph.len() as u8];
        m.extend_from_slice(&graph);
        m
    }

    #[test]
    fn the_float_weights_are_regrouped_by_byte_and_nothing_else_moves() {
        // 1.0 = 00 00 80 3f, -2.5 = 00 00 20 c0 (little-endian).
        let onnx = model([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0]);
        let planes = model([0x00, 0x00, 0x00, 0x00, 0x80, 0x20, 0x3f, 0xc0]);
        assert_eq!(encode(&onnx), Ok(planes.clone()));
        assert_eq!(decode(&planes), Ok(onnx));
    }

    #[test]
    fn a_file_that_is_not_protobuf_is_refused() {
        let onnx = model([1, 2, 3, 4, 5, 6, 7, 8]);
        for cut in [3, 10, onnx.len() - 1] {
            assert!(decode(&onnx[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[0x0f]).is_err());
        assert_eq!(decode(&[]), Ok(vec![]));
    }
}
