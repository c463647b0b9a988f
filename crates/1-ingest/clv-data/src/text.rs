//! From an input's bytes to UTF-8 text: gzip and zstd are unpacked whatever the file is called
//! (by their magic bytes), and the text encoding is detected from the first 64 KB (UTF-8, or
//! else Windows-1252, the superset of Latin-1 that spreadsheet exports use) or given, so `Müller`
//! never turns into `M�ller` silently.

use crate::DataError;
use std::io::{Cursor, Read};
use std::path::Path;
use std::str::FromStr;

/// A text encoding clv reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Utf8,
    /// Windows-1252, which decodes Latin-1 (ISO-8859-1) text the same way browsers do.
    Windows1252,
    /// UTF-16 with a byte-order mark (Excel's "Unicode text" export).
    Utf16,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Windows1252 => "Windows-1252 (Latin-1)",
            Encoding::Utf16 => "UTF-16",
        }
    }
}

impl FromStr for Encoding {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        let plain: String = s
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        match plain.as_str() {
            "utf8" => Ok(Encoding::Utf8),
            "latin1" | "iso88591" | "windows1252" | "cp1252" => Ok(Encoding::Windows1252),
            "utf16" => Ok(Encoding::Utf16),
            _ => Err(DataError::Invalid(format!(
                "unknown encoding `{s}`: use utf-8, latin1 (windows-1252) or utf-16"
            ))),
        }
    }
}

/// How an input's bytes became text, for the read report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TextSource {
    /// `gzip` or `zstd` when the input was compressed.
    pub compression: Option<&'static str>,
    pub encoding: Encoding,
    /// True when read from the bytes, false when given.
    pub encoding_detected: bool,
}

/// The encoding of `head`: UTF-8 when it is valid UTF-8 (a character cut by the end of a full
/// head allowed), else Windows-1252.
fn detect(head: &[u8], full: bool) -> Encoding {
    match std::str::from_utf8(head) {
        Ok(_) => Encoding::Utf8,
        Err(e) if full && e.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Windows1252,
    }
}

/// `input` as UTF-8 text, unpacked and transcoded, with how. `head_bytes` is how much of the
/// start decides the encoding. A text that holds NUL bytes is refused: it is binary (or
/// UTF-16), not an export clv can read.
pub fn decode<'r>(
    name: &str,
    mut input: impl Read + 'r,
    encoding: Option<Encoding>,
    head_bytes: u64,
) -> Result<(Box<dyn Read + 'r>, TextSource), DataError> {
    let io = |e| DataError::io(Path::new(name), e);
    let mut magic = Vec::with_capacity(4);
    (&mut input).take(4).read_to_end(&mut magic).map_err(io)?;
    let rest = Cursor::new(magic.clone()).chain(input);
    let (mut bytes, compression): (Box<dyn Read + 'r>, _) = match magic.as_slice() {
        [0x1f, 0x8b, ..] => (
            Box::new(flate2::read::MultiGzDecoder::new(rest)),
            Some("gzip"),
        ),
        [0x28, 0xb5, 0x2f, 0xfd] => (
            Box::new(zstd::Decoder::new(rest).map_err(io)?),
            Some("zstd"),
        ),
        _ => (Box::new(rest), None),
    };
    let mut head = Vec::new();
    (&mut bytes)
        .take(head_bytes)
        .read_to_end(&mut head)
        .map_err(io)?;
    // UTF-16 is known by its byte-order mark, before NUL bytes would call it binary.
    let utf16 = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
    let encoding = encoding.or(utf16.then_some(Encoding::Utf16));
    if encoding != Some(Encoding::Utf16) && memchr::memchr(0, &head).is_some() {
        let what = match magic.as_slice() {
            [b'P', b'K', 3, 4] => "a zip archive: an Excel workbook (.xlsx) is one; save the sheet as CSV (UTF-8)",
            _ => "it holds NUL bytes: a binary file, or UTF-16 text without its byte-order mark; export it as CSV (UTF-8) or pass --encoding utf-16",
        };
        return Err(DataError::NotText(format!(
            "{name}: not a text file ({what}), or pass a Parquet file"
        )));
    }
    let (encoding, detected) = match encoding {
        Some(Encoding::Utf16) if utf16 => (Encoding::Utf16, true),
        Some(e) => (e, false),
        None => (detect(&head, head.len() as u64 == head_bytes), true),
    };
    let text: Box<dyn Read + 'r> = match encoding {
        Encoding::Utf8 => Box::new(Cursor::new(head).chain(bytes)),
        Encoding::Windows1252 | Encoding::Utf16 => {
            let from = match encoding {
                Encoding::Windows1252 => encoding_rs::WINDOWS_1252,
                _ => encoding_rs::UTF_16LE,
            };
            // The byte-order mark, when there is one, decides UTF-16's byte order.
            Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(from))
                    .bom_override(true)
                    .build(Cursor::new(head).chain(bytes)),
            )
        }
    };
    let source = TextSource {
        compression,
        encoding,
        encoding_detected: detected,
    };
    Ok((text, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text `bytes` decode to, and how.
    fn check(bytes: &[u8], given: Option<Encoding>, want: &str, how: (Option<&str>, Encoding)) {
        let (mut text, source) = decode("t", bytes, given, 64 * 1024).unwrap();
        let mut out = String::new();
        text.read_to_string(&mut out).unwrap();
        assert_eq!(out, want);
        assert_eq!((source.compression, source.encoding), how);
    }

    #[test]
    fn compressed_and_latin1_inputs_read_as_utf8_text() {
        use std::io::Write;
        let utf8 = "customer,date,amount\nMüller,2024-01-01,12.50\n";
        check(utf8.as_bytes(), None, utf8, (None, Encoding::Utf8));
        // Latin-1: ü is one byte, 0xFC, invalid as UTF-8.
        let latin1: Vec<u8> = utf8.chars().map(|c| c as u32 as u8).collect();
        check(&latin1, None, utf8, (None, Encoding::Windows1252));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&latin1).unwrap();
        check(
            &gz.finish().unwrap(),
            None,
            utf8,
            (Some("gzip"), Encoding::Windows1252),
        );
        let zst = zstd::encode_all(utf8.as_bytes(), 3).unwrap();
        check(&zst, None, utf8, (Some("zstd"), Encoding::Utf8));
        // UTF-16 with its byte-order mark (either order); NUL bytes without one are binary.
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(utf8.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        check(&le, None, utf8, (None, Encoding::Utf16));
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(utf8.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        check(&be, None, utf8, (None, Encoding::Utf16));
        assert!(decode("t", &b"a\x00b"[..], None, 1024).is_err());
    }
}
