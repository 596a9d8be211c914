//! The `multipart/form-data` bodies of the platform's upload endpoints.
//!
//! An upload (`POST v3/merchant/media/upload` and 13 others) sends two parts: `meta`, a
//! JSON text such as `{"filename":"a.png","sha256":"…"}`, and the file. The request
//! signature covers **only the meta JSON** (it is the BODY of the signed message), so the
//! exact bytes of `meta` are kept apart ([`Multipart::meta`]). [`UploadForm`] builds such a
//! body from bytes, from any `AsyncRead` or from a path, reading the file once and
//! computing its digest while reading; it checks the endpoint's documented limits (file
//! kind by magic bytes, file name suffix, size) before anything is sent.
//!
//! ```
//! use wechatpay::multipart::UploadForm;
//!
//! let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR...";
//! let form = UploadForm::for_endpoint("v3/merchant/media/upload", "a.png")
//!     .boundary("X-BOUNDARY")
//!     .from_bytes(png.to_vec())?;
//! assert_eq!(form.content_type(), "multipart/form-data; boundary=X-BOUNDARY");
//! assert_eq!(form.file_content_type(), "image/png");
//! assert_eq!(
//!     form.meta(),
//!     format!(r#"{{"filename":"a.png","sha256":"{}"}}"#, form.sha256_hex())
//! );
//! let body = String::from_utf8_lossy(form.body());
//! assert!(body.starts_with("--X-BOUNDARY\r\nContent-Disposition: form-data; name=\"meta\"\r\n"));
//! # Ok::<(), wechatpay::Error>(())
//! ```
//!
//! ## The upload endpoints
//!
//! [`UploadRule::all`] holds one rule per endpoint of the catalog that `consumes:
//! multipart/form-data` (APIv3; the APIv2 `secapi/mch/uploadmedia` signs differently).
//! "catalog" is the endpoint's page in the wechatpay-openapi catalog; "doc N" is the
//! official page `pay.weixin.qq.com/doc/v3/partner/N` or the wiki page named.
//!
//! | endpoint | file part | meta (in order; * = given by the caller) | accepted, limit | source |
//! |---|---|---|---|---|
//! | `v3/merchant/media/upload` | `file` | `filename`, `sha256` | JPG, BMP, PNG ≤ 5 MiB; PDF ≤ 7.5 MiB | catalog |
//! | `v3/merchant/media/video_upload` | `file` | `filename`, `sha256` | AVI, WMV, MPEG, MP4, MOV, MKV, FLV, F4V, M4V, RMVB ≤ 5 MiB | wiki apiv3 `chapter3_2` (linked by the catalog, which states no limit) |
//! | `v3/marketing/favor/media/image-upload` | `file` | `filename`, `sha256` | JPG, BMP, PNG ≤ 2 MiB | wiki apiv3 `chapter9_0_1`, doc 4012760240 |
//! | `v3/marketing/partner/product-coupon/media/upload-image` | `file` | `filename` (≤ 150 chars), `sha256` | JPG, BMP, PNG ≤ 2 MiB | doc 4015781275 |
//! | `v3/merchant-service/images/upload` | `file` | `filename`, `sha256` | JPG, PNG, BMP ≤ 2 MiB | catalog |
//! | `v3/global/merchant-service/images/upload` | `file` | `filename`, `sha256` | JPG, PNG, BMP ≤ 2 MiB | catalog |
//! | `v3/global/merchant-storage/file/upload` | `file` | `filename`, `sha256` | not documented | catalog |
//! | `v3/ecommerce/account/cancel-applications/media` | `file` | `file_name`, `file_digest` (SHA-256) | images; limit not documented | catalog |
//! | `v3/marketing/bank/packages/{package_id}/tasks` | `file` | `bank_type`*, `filename`, `sha256` | agreement-number file; not documented | catalog |
//! | `v3/marketing/shopping-receipt/shoppingreceipts` | `file` | `transaction_id`*, `openid`*, `sha256` (+ optional fields*) | PNG, JPG ≤ 200 KiB | catalog |
//! | `v3/mch-manage/submission-files/sub-mchid/{sub_mchid}/upload` | `submission_file` | `file_name`, `file_digest` (SHA-256, uppercase as in the example); form fields `item_id`*, `manage_record_id`* | per item (the record's `check_rule`) | catalog |
//! | `v3/mch-operation-manage/enhanced-due-diligence/{due_diligence_id}/upload` | `due_diligence_file` | `file_name`, `file_digest`, `sub_mchid`*, `item_id`* | not documented | catalog |
//! | `v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file` | `file` | `sub_mchid`* (optional), `file_type` (`PDF`/`OFD`), `digest_alogrithm` (`SM3`, the catalog's spelling), `digest` (SM3) | PDF, OFD ≤ 2 MiB | catalog |
//! | `v3/taxi-invoice/cards/upload-file` | `file` | `company_mchid`*, `digest` (SM3), `digest_algorithm` (`DIGEST_ALGORITHM_SM3`), `region_id`* | not documented | catalog |
//!
//! "M" in the platform's texts is read as MiB (the stricter reading would be 10^6 bytes;
//! the platform has not said). Where no limit is documented, [`DEFAULT_MAX_FILE_SIZE`]
//! bounds the memory an upload takes.

use std::fmt;
use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::crypto::digest::{HashType, Hasher};
use crate::error::Error;

/// The largest file accepted where the endpoint documents no limit (32 MiB): the body is
/// built in memory, because the meta part, which carries the file's digest, precedes it.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 32 << 20;

const MIB: u64 = 1 << 20;

/// What a file is, told by its first bytes (or, failing that, its name's extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// JPEG image (`.jpg`, `.jpeg`).
    Jpeg,
    /// PNG image.
    Png,
    /// GIF image.
    Gif,
    /// BMP image.
    Bmp,
    /// WebP image.
    Webp,
    /// PDF document.
    Pdf,
    /// OFD document (China's fixed-layout format; a ZIP, so known by extension only).
    Ofd,
    /// MP4 video.
    Mp4,
    /// QuickTime video (`.mov`).
    Mov,
    /// M4V video.
    M4v,
    /// F4V (Flash MP4) video.
    F4v,
    /// AVI video.
    Avi,
    /// Windows Media video (`.wmv`, ASF).
    Wmv,
    /// MPEG program or elementary stream (`.mpeg`, `.mpg`).
    Mpeg,
    /// Flash video (`.flv`).
    Flv,
    /// Matroska video (`.mkv`).
    Mkv,
    /// RealMedia variable bit rate (`.rmvb`).
    Rmvb,
    /// Comma-separated text (known by extension).
    Csv,
    /// Plain text (known by extension).
    Txt,
}

const ALL_KINDS: &[FileKind] = &[
    FileKind::Jpeg,
    FileKind::Png,
    FileKind::Gif,
    FileKind::Bmp,
    FileKind::Webp,
    FileKind::Pdf,
    FileKind::Ofd,
    FileKind::Mp4,
    FileKind::Mov,
    FileKind::M4v,
    FileKind::F4v,
    FileKind::Avi,
    FileKind::Wmv,
    FileKind::Mpeg,
    FileKind::Flv,
    FileKind::Mkv,
    FileKind::Rmvb,
    FileKind::Csv,
    FileKind::Txt,
];

impl FileKind {
    /// The kind told by the first bytes (12 are enough), if they are one of the known
    /// signatures.
    ///
    /// ```
    /// use wechatpay::multipart::FileKind;
    /// assert_eq!(FileKind::sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some(FileKind::Jpeg));
    /// assert_eq!(FileKind::sniff(b"\0\0\0\x18ftypqt  "), Some(FileKind::Mov));
    /// assert_eq!(FileKind::sniff(b"plain text"), None);
    /// ```
    pub fn sniff(head: &[u8]) -> Option<FileKind> {
        let at =
            |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
        let kind = if at(0, b"\xFF\xD8\xFF") {
            FileKind::Jpeg
        } else if at(0, b"\x89PNG\r\n\x1a\n") {
            FileKind::Png
        } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
            FileKind::Gif
        } else if at(0, b"BM") && at(6, &[0, 0, 0, 0]) {
            FileKind::Bmp
        } else if at(0, b"RIFF") && at(8, b"WEBP") {
            FileKind::Webp
        } else if at(0, b"RIFF") && at(8, b"AVI ") {
            FileKind::Avi
        } else if at(0, b"%PDF-") {
            FileKind::Pdf
        } else if at(4, b"ftyp") {
            if at(8, b"qt  ") {
                FileKind::Mov
            } else if at(8, b"M4V") {
                FileKind::M4v
            } else if at(8, b"F4V") {
                FileKind::F4v
            } else {
                FileKind::Mp4
            }
        } else if at(0, b"\x30\x26\xB2\x75\x8E\x66\xCF\x11") {
            FileKind::Wmv
        } else if at(0, b"\0\0\x01\xBA") || at(0, b"\0\0\x01\xB3") {
            FileKind::Mpeg
        } else if at(0, b"FLV\x01") {
            FileKind::Flv
        } else if at(0, b"\x1A\x45\xDF\xA3") {
            FileKind::Mkv
        } else if at(0, b".RMF") {
            FileKind::Rmvb
        } else {
            return None;
        };
        Some(kind)
    }

    /// The kind a file name's extension says (any case).
    pub fn from_name(name: &str) -> Option<FileKind> {
        let (_, extension) = name.rsplit_once('.')?;
        let extension = extension.to_ascii_lowercase();
        ALL_KINDS
            .iter()
            .copied()
            .find(|kind| kind.extensions().contains(&extension.as_str()))
    }

    /// The file name extensions of this kind, the usual one first.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FileKind::Jpeg => &["jpg", "jpeg"],
            FileKind::Png => &["png"],
            FileKind::Gif => &["gif"],
            FileKind::Bmp => &["bmp"],
            FileKind::Webp => &["webp"],
            FileKind::Pdf => &["pdf"],
            FileKind::Ofd => &["ofd"],
            FileKind::Mp4 => &["mp4"],
            FileKind::Mov => &["mov"],
            FileKind::M4v => &["m4v"],
            FileKind::F4v => &["f4v"],
            FileKind::Avi => &["avi"],
            FileKind::Wmv => &["wmv"],
            FileKind::Mpeg => &["mpeg", "mpg"],
            FileKind::Flv => &["flv"],
            FileKind::Mkv => &["mkv"],
            FileKind::Rmvb => &["rmvb"],
            FileKind::Csv => &["csv"],
            FileKind::Txt => &["txt"],
        }
    }

    /// The media type sent in the file part's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Gif => "image/gif",
            FileKind::Bmp => "image/bmp",
            FileKind::Webp => "image/webp",
            FileKind::Pdf => "application/pdf",
            FileKind::Ofd => "application/ofd",
            FileKind::Mp4 => "video/mp4",
            FileKind::Mov => "video/quicktime",
            FileKind::M4v => "video/x-m4v",
            FileKind::F4v => "video/x-f4v",
            FileKind::Avi => "video/x-msvideo",
            FileKind::Wmv => "video/x-ms-wmv",
            FileKind::Mpeg => "video/mpeg",
            FileKind::Flv => "video/x-flv",
            FileKind::Mkv => "video/x-matroska",
            FileKind::Rmvb => "application/vnd.rn-realmedia-vbr",
            FileKind::Csv => "text/csv",
            FileKind::Txt => "text/plain",
        }
    }

    /// A short name for messages (`JPEG`, `PNG`, …).
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Jpeg => "JPEG",
            FileKind::Png => "PNG",
            FileKind::Gif => "GIF",
            FileKind::Bmp => "BMP",
            FileKind::Webp => "WebP",
            FileKind::Pdf => "PDF",
            FileKind::Ofd => "OFD",
            FileKind::Mp4 => "MP4",
            FileKind::Mov => "MOV",
            FileKind::M4v => "M4V",
            FileKind::F4v => "F4V",
            FileKind::Avi => "AVI",
            FileKind::Wmv => "WMV",
            FileKind::Mpeg => "MPEG",
            FileKind::Flv => "FLV",
            FileKind::Mkv => "MKV",
            FileKind::Rmvb => "RMVB",
            FileKind::Csv => "CSV",
            FileKind::Txt => "text",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field of the `meta` JSON in an endpoint's documented layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaValue {
    /// The file name.
    FileName,
    /// SHA-256 of the file, lowercase hex.
    Sha256,
    /// SHA-256 of the file, uppercase hex.
    Sha256Upper,
    /// SM3 of the file, lowercase hex.
    Sm3,
    /// `PDF` or `OFD`, from the file's kind.
    FileType,
    /// A fixed text.
    Text(&'static str),
    /// A value the caller must give ([`UploadForm::meta`]).
    Required,
    /// A value the caller may give; left out otherwise.
    Optional,
}

/// One upload endpoint: its file part, its meta layout and its documented limits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadRule {
    /// The endpoint's URI template, as in the catalog (no leading slash).
    pub endpoint: &'static str,
    /// The name of the file's form part.
    pub file_field: &'static str,
    /// The meta JSON fields in order.
    pub meta: &'static [(&'static str, MetaValue)],
    /// Plain form fields (besides `meta` and the file) that must be given
    /// ([`UploadForm::field`]).
    pub fields: &'static [&'static str],
    /// Accepted kinds and the largest file of each; empty when not documented.
    pub accepts: &'static [(FileKind, u64)],
    /// The longest file name (in characters), when documented.
    pub max_name_chars: Option<usize>,
    /// Where the limits come from.
    pub source: &'static str,
}

const STANDARD_META: &[(&str, MetaValue)] = &[
    ("filename", MetaValue::FileName),
    ("sha256", MetaValue::Sha256),
];
const IMAGES_2M: &[(FileKind, u64)] = &[
    (FileKind::Jpeg, 2 * MIB),
    (FileKind::Bmp, 2 * MIB),
    (FileKind::Png, 2 * MIB),
];
const VIDEO_5M: &[(FileKind, u64)] = &[
    (FileKind::Avi, 5 * MIB),
    (FileKind::Wmv, 5 * MIB),
    (FileKind::Mpeg, 5 * MIB),
    (FileKind::Mp4, 5 * MIB),
    (FileKind::Mov, 5 * MIB),
    (FileKind::Mkv, 5 * MIB),
    (FileKind::Flv, 5 * MIB),
    (FileKind::F4v, 5 * MIB),
    (FileKind::M4v, 5 * MIB),
    (FileKind::Rmvb, 5 * MIB),
];

const fn rule(
    endpoint: &'static str,
    file_field: &'static str,
    meta: &'static [(&'static str, MetaValue)],
    accepts: &'static [(FileKind, u64)],
    source: &'static str,
) -> UploadRule {
    UploadRule {
        endpoint,
        file_field,
        meta,
        fields: &[],
        accepts,
        max_name_chars: None,
        source,
    }
}

static RULES: [UploadRule; 14] = [
    UploadRule {
        max_name_chars: Some(128),
        ..rule(
            "v3/merchant/media/upload",
            "file",
            STANDARD_META,
            &[
                (FileKind::Jpeg, 5 * MIB),
                (FileKind::Bmp, 5 * MIB),
                (FileKind::Png, 5 * MIB),
                (FileKind::Pdf, 15 * MIB / 2),
            ],
            "catalog v3/merchant/media/upload.yaml: JPG, BMP, PNG up to 5M; PDF up to 7.5M",
        )
    },
    UploadRule {
        max_name_chars: Some(128),
        ..rule(
            "v3/merchant/media/video_upload",
            "file",
            STANDARD_META,
            VIDEO_5M,
            "wiki apiv3 tool/chapter3_2 (linked by the catalog): avi, wmv, mpeg, mp4, mov, mkv, flv, f4v, m4v, rmvb up to 5M",
        )
    },
    UploadRule {
        max_name_chars: Some(128),
        ..rule(
            "v3/marketing/favor/media/image-upload",
            "file",
            STANDARD_META,
            IMAGES_2M,
            "wiki apiv3 chapter9_0_1, doc 4012760240: JPG, BMP, PNG up to 2M",
        )
    },
    UploadRule {
        max_name_chars: Some(150),
        ..rule(
            "v3/marketing/partner/product-coupon/media/upload-image",
            "file",
            STANDARD_META,
            IMAGES_2M,
            "doc 4015781275: JPG, BMP, PNG up to 2M, file name up to 150 characters",
        )
    },
    rule(
        "v3/merchant-service/images/upload",
        "file",
        STANDARD_META,
        IMAGES_2M,
        "catalog v3/merchant-service/images/upload.yaml: jpg, png, bmp up to 2M",
    ),
    rule(
        "v3/global/merchant-service/images/upload",
        "file",
        STANDARD_META,
        IMAGES_2M,
        "catalog v3/global/merchant-service/images/upload.yaml: jpg, png, bmp up to 2M",
    ),
    rule(
        "v3/global/merchant-storage/file/upload",
        "file",
        STANDARD_META,
        &[],
        "catalog v3/global/merchant-storage/file/upload.yaml: no limit documented",
    ),
    rule(
        "v3/ecommerce/account/cancel-applications/media",
        "file",
        &[("file_name", MetaValue::FileName), ("file_digest", MetaValue::Sha256)],
        &[],
        "catalog v3/ecommerce/account/cancel-applications/media.yaml: images, no limit documented",
    ),
    rule(
        "v3/marketing/bank/packages/{package_id}/tasks",
        "file",
        &[
            ("bank_type", MetaValue::Required),
            ("filename", MetaValue::FileName),
            ("sha256", MetaValue::Sha256),
        ],
        &[],
        "catalog v3/marketing/bank/packages/{package_id}/tasks.yaml: no limit documented",
    ),
    rule(
        "v3/marketing/shopping-receipt/shoppingreceipts",
        "file",
        &[
            ("transaction_id", MetaValue::Required),
            ("transaction_mchid", MetaValue::Optional),
            ("transaction_sub_mchid", MetaValue::Optional),
            ("out_trade_no", MetaValue::Optional),
            ("openid", MetaValue::Required),
            ("sha256", MetaValue::Sha256),
            ("merchant_contact_information", MetaValue::Optional),
            ("upload_time", MetaValue::Optional),
        ],
        &[(FileKind::Png, 200 << 10), (FileKind::Jpeg, 200 << 10)],
        "catalog v3/marketing/shopping-receipt/shoppingreceipts.yaml: PNG, JPG up to 200KB",
    ),
    UploadRule {
        fields: &["item_id", "manage_record_id"],
        ..rule(
            "v3/mch-manage/submission-files/sub-mchid/{sub_mchid}/upload",
            "submission_file",
            &[("file_name", MetaValue::FileName), ("file_digest", MetaValue::Sha256Upper)],
            &[],
            "catalog v3/mch-manage/submission-files/sub-mchid/{sub_mchid}/upload.yaml: limits per item (check_rule)",
        )
    },
    rule(
        "v3/mch-operation-manage/enhanced-due-diligence/{due_diligence_id}/upload",
        "due_diligence_file",
        &[
            ("file_name", MetaValue::FileName),
            ("file_digest", MetaValue::Sha256Upper),
            ("sub_mchid", MetaValue::Optional),
            ("item_id", MetaValue::Optional),
        ],
        &[],
        "catalog v3/mch-operation-manage/enhanced-due-diligence/{due_diligence_id}/upload.yaml: no limit documented",
    ),
    rule(
        "v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file",
        "file",
        &[
            ("sub_mchid", MetaValue::Optional),
            ("file_type", MetaValue::FileType),
            ("digest_alogrithm", MetaValue::Text("SM3")),
            ("digest", MetaValue::Sm3),
        ],
        &[(FileKind::Pdf, 2 * MIB), (FileKind::Ofd, 2 * MIB)],
        "catalog v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file.yaml: PDF, OFD up to 2M",
    ),
    rule(
        "v3/taxi-invoice/cards/upload-file",
        "file",
        &[
            ("company_mchid", MetaValue::Required),
            ("digest", MetaValue::Sm3),
            ("digest_algorithm", MetaValue::Text("DIGEST_ALGORITHM_SM3")),
            ("region_id", MetaValue::Required),
        ],
        &[],
        "catalog v3/taxi-invoice/cards/upload-file.yaml: no limit documented",
    ),
];

/// The layout of an endpoint not in the table: `{"filename","sha256"}`, part `file`.
static GENERIC: UploadRule = rule("", "file", STANDARD_META, &[], "");

impl UploadRule {
    /// The rules of the 14 upload endpoints.
    pub fn all() -> &'static [UploadRule] {
        &RULES
    }

    /// The rule of an endpoint, named by its template (`v3/marketing/bank/packages/{package_id}/tasks`,
    /// `{x}` or `<x>` placeholders) or by an expanded path (`/v3/marketing/bank/packages/8473295/tasks`).
    ///
    /// ```
    /// use wechatpay::multipart::UploadRule;
    /// let rule = UploadRule::find("/v3/mch-manage/submission-files/sub-mchid/1900000109/upload").unwrap();
    /// assert_eq!(rule.file_field, "submission_file");
    /// assert!(UploadRule::find("v3/pay/transactions/jsapi").is_none());
    /// ```
    pub fn find(endpoint: &str) -> Option<&'static UploadRule> {
        let path = endpoint.split(['?', '#']).next().unwrap_or_default();
        let wanted: Vec<&str> = path.trim_matches('/').split('/').collect();
        RULES.iter().find(|rule| {
            let segments: Vec<&str> = rule.endpoint.split('/').collect();
            segments.len() == wanted.len()
                && segments.iter().zip(&wanted).all(|(pattern, segment)| {
                    let placeholder = |s: &str| {
                        (s.starts_with('{') && s.ends_with('}'))
                            || (s.starts_with('<') && s.ends_with('>'))
                    };
                    pattern == segment || placeholder(pattern) && !segment.is_empty()
                })
        })
    }

    fn limit_for(&self, kind: Option<FileKind>) -> u64 {
        match kind.and_then(|k| self.accepts.iter().find(|(a, _)| *a == k)) {
            Some((_, limit)) => *limit,
            None => self
                .accepts
                .iter()
                .map(|(_, limit)| *limit)
                .max()
                .unwrap_or(DEFAULT_MAX_FILE_SIZE),
        }
    }

    fn accepted_names(&self) -> String {
        self.accepts
            .iter()
            .map(|(kind, limit)| format!("{kind} up to {}", human(*limit)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn human(bytes: u64) -> String {
    if bytes >= MIB && bytes % (MIB / 2) == 0 {
        format!("{} MiB", bytes as f64 / MIB as f64)
    } else if bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[derive(Debug, Clone)]
enum Slot {
    Computed(MetaValue),
    Given(serde_json::Value),
}

/// Builds the multipart body of an upload: the meta JSON (what is signed) and the file.
///
/// Settings that go wrong are reported by the `from_*` call that builds the body, as
/// with [`RequestBuilder`](crate::RequestBuilder).
#[must_use = "an UploadForm does nothing until a from_* method builds the body"]
#[derive(Debug, Clone)]
pub struct UploadForm {
    rule: &'static UploadRule,
    file_name: String,
    file_field: String,
    meta: Vec<(String, Slot)>,
    fields: Vec<(String, String)>,
    boundary: Option<String>,
    max_size: Option<u64>,
    error: Option<String>,
}

impl UploadForm {
    /// A form in the common layout (part `file`, meta `{"filename","sha256"}`), with no
    /// limits but [`DEFAULT_MAX_FILE_SIZE`].
    pub fn new(file_name: &str) -> UploadForm {
        UploadForm::with_rule(&GENERIC, file_name)
    }

    /// A form in `endpoint`'s layout, checked against its documented limits (see
    /// [`UploadRule::find`]); an endpoint not in the table gets the common layout.
    pub fn for_endpoint(endpoint: &str, file_name: &str) -> UploadForm {
        UploadForm::with_rule(UploadRule::find(endpoint).unwrap_or(&GENERIC), file_name)
    }

    /// A form in `rule`'s layout.
    pub fn with_rule(rule: &'static UploadRule, file_name: &str) -> UploadForm {
        UploadForm {
            rule,
            file_name: file_name.to_owned(),
            file_field: rule.file_field.to_owned(),
            meta: rule
                .meta
                .iter()
                .map(|(name, value)| ((*name).to_owned(), Slot::Computed(*value)))
                .collect(),
            fields: Vec::new(),
            boundary: None,
            max_size: None,
            error: None,
        }
    }

    /// Sets a meta field: fills the layout's slot of that name (required or optional),
    /// or adds the field at the end. Fields the form computes (name, digests) cannot be
    /// set.
    pub fn meta(mut self, name: &str, value: impl Into<serde_json::Value>) -> UploadForm {
        let value = value.into();
        match self.meta.iter_mut().find(|(n, _)| n == name) {
            Some((_, slot @ Slot::Computed(MetaValue::Required | MetaValue::Optional)))
            | Some((_, slot @ Slot::Given(_))) => *slot = Slot::Given(value),
            Some(_) => {
                self.error.get_or_insert_with(|| {
                    format!("meta field `{name}` is computed from the file and cannot be set")
                });
            }
            None => self.meta.push((name.to_owned(), Slot::Given(value))),
        }
        self
    }

    /// Adds a plain form field (sent as its own part, not signed).
    pub fn field(mut self, name: &str, value: &str) -> UploadForm {
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Renames the file's part (default per endpoint, usually `file`).
    pub fn file_field(mut self, name: &str) -> UploadForm {
        self.file_field = name.to_owned();
        self
    }

    /// Fixes the boundary (for reproducible bodies); by default it is random. It must be
    /// 1-70 characters of RFC 2046's set and must not occur in any part.
    pub fn boundary(mut self, boundary: &str) -> UploadForm {
        self.boundary = Some(boundary.to_owned());
        self
    }

    /// Lowers (or, for endpoints without a documented limit, raises) the largest file
    /// accepted. The endpoint's per-kind limits still apply.
    pub fn max_size(mut self, bytes: u64) -> UploadForm {
        self.max_size = Some(bytes);
        self
    }

    /// Builds the body from the file's bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] saying what to fix: a file over the endpoint's limit, a kind
    /// it does not accept, a file name without an accepted suffix or with a quote or
    /// line break, a missing required meta or form field, a bad boundary.
    pub fn from_bytes(self, file: Vec<u8>) -> Result<Multipart, Error> {
        let head_kind = FileKind::sniff(&file);
        let checked = self.check(head_kind)?;
        if file.len() as u64 > checked.limit {
            return Err(self.too_large(file.len() as u64, checked.limit, checked.kind, true));
        }
        let mut digests = Digests::new(&self.meta);
        digests.update(&file);
        self.assemble(file, checked.kind, digests)
    }

    /// Builds the body from a reader, read once (and no further than the limit).
    ///
    /// # Errors
    ///
    /// As [`from_bytes`](UploadForm::from_bytes), and [`Error::Request`] if reading fails.
    pub async fn from_reader<R: AsyncRead + Unpin>(
        self,
        mut reader: R,
    ) -> Result<Multipart, Error> {
        let mut file = Vec::new();
        let mut digests = Digests::new(&self.meta);
        // The kind (and so the limit) is known from the first bytes.
        let mut head = [0u8; 16];
        let mut filled = 0;
        while filled < head.len() {
            let n = reader
                .read(&mut head[filled..])
                .await
                .map_err(|e| self.read_error(e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let checked = self.check(FileKind::sniff(&head[..filled]))?;
        file.extend_from_slice(&head[..filled]);
        digests.update(&head[..filled]);
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| self.read_error(e))?;
            if n == 0 {
                break;
            }
            if (file.len() + n) as u64 > checked.limit {
                return Err(self.too_large(
                    (file.len() + n) as u64,
                    checked.limit,
                    checked.kind,
                    false,
                ));
            }
            file.extend_from_slice(&buf[..n]);
            digests.update(&buf[..n]);
        }
        self.assemble(file, checked.kind, digests)
    }

    /// Builds the body from the file at `path` (its size is checked before reading).
    /// A form made with an empty file name takes the path's.
    ///
    /// # Errors
    ///
    /// As [`from_reader`](UploadForm::from_reader), and [`Error::Request`] if the file
    /// cannot be opened.
    pub async fn from_path(mut self, path: impl AsRef<Path>) -> Result<Multipart, Error> {
        let path = path.as_ref();
        if self.file_name.is_empty() {
            if let Some(name) = path.file_name() {
                self.file_name = name.to_string_lossy().into_owned();
            }
        }
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::Request {
                message: format!("cannot open {} for upload", path.display()),
                source: Some(Box::new(e)),
            })?;
        if let Ok(metadata) = file.metadata().await {
            // The kind is not known before reading: refuse early only what no accepted
            // kind would take.
            let ceiling = self.ceiling();
            if metadata.len() > ceiling {
                return Err(self.too_large(metadata.len(), ceiling, None, true));
            }
        }
        self.from_reader(tokio::io::BufReader::with_capacity(64 << 10, file))
            .await
    }

    /// [`from_path`](UploadForm::from_path) without a runtime, for a request that is built
    /// and not sent: reads the file (no further than the largest file accepted) on this
    /// thread.
    pub(crate) fn read_path_blocking(mut self, path: &Path) -> Result<Multipart, Error> {
        use std::io::Read as _;
        if self.file_name.is_empty() {
            if let Some(name) = path.file_name() {
                self.file_name = name.to_string_lossy().into_owned();
            }
        }
        let open_error = |e| Error::Request {
            message: format!("cannot open {} for upload", path.display()),
            source: Some(Box::new(e)),
        };
        let file = std::fs::File::open(path).map_err(open_error)?;
        let ceiling = self.ceiling();
        if let Ok(metadata) = file.metadata() {
            if metadata.len() > ceiling {
                return Err(self.too_large(metadata.len(), ceiling, None, true));
            }
        }
        let mut bytes = Vec::new();
        file.take(ceiling.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| self.read_error(e))?;
        self.from_bytes(bytes)
    }

    /// The largest file any accepted kind may be.
    fn ceiling(&self) -> u64 {
        let documented = self.rule.limit_for(None);
        match self.max_size {
            Some(max) if self.rule.accepts.is_empty() => max,
            Some(max) => max.min(documented),
            None => documented,
        }
    }

    fn read_error(&self, e: std::io::Error) -> Error {
        Error::Request {
            message: format!("reading `{}` for upload failed", self.file_name),
            source: Some(Box::new(e)),
        }
    }

    fn too_large(&self, size: u64, limit: u64, kind: Option<FileKind>, exact: bool) -> Error {
        let what = match kind {
            Some(kind) => format!("{kind} files"),
            None => "files".to_owned(),
        };
        let endpoint = if self.rule.endpoint.is_empty() {
            "this upload".to_owned()
        } else {
            self.rule.endpoint.to_owned()
        };
        let size = if exact {
            format!("{size} bytes")
        } else {
            format!("more than {limit} bytes")
        };
        Error::request(format!(
            "`{}` is too large: {size}, but {endpoint} accepts {what} up to {} ({limit} bytes)",
            self.file_name,
            human(limit)
        ))
    }

    /// Checks everything that does not need the whole file; returns the kind and limit.
    fn check(&self, sniffed: Option<FileKind>) -> Result<Checked, Error> {
        if let Some(message) = &self.error {
            return Err(Error::request(message.clone()));
        }
        let name = &self.file_name;
        if name.is_empty() {
            return Err(Error::request("the upload has no file name"));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| matches!(c, '"' | '\\' | '\r' | '\n' | '\0'))
        {
            return Err(Error::request(format!(
                "the file name `{}` contains {bad:?}, which a multipart header cannot carry: rename the file",
                name.escape_debug()
            )));
        }
        if let Some(bad) = self
            .file_field
            .chars()
            .find(|c| matches!(c, '"' | '\\' | '\r' | '\n' | '\0'))
        {
            return Err(Error::request(format!(
                "the file part's name `{}` contains {bad:?}, which a multipart header cannot carry",
                self.file_field.escape_debug()
            )));
        }
        if self.file_field.is_empty() || self.file_field == "meta" {
            return Err(Error::request(format!(
                "the file part cannot be named `{}`: the form already has a `meta` part, and a part needs a name",
                self.file_field
            )));
        }
        if let Some(max) = self.rule.max_name_chars {
            if name.chars().count() > max {
                return Err(Error::request(format!(
                    "the file name `{name}` is longer than the {max} characters {} accepts",
                    self.rule.endpoint
                )));
            }
        }
        for (field, text) in [("meta", "meta"), ("file", self.file_field.as_str())] {
            if self.fields.iter().any(|(n, _)| n == text) {
                return Err(Error::request(format!(
                    "a form field cannot be named `{text}`: that is the {field} part"
                )));
            }
        }
        for required in self.rule.fields {
            if !self.fields.iter().any(|(n, _)| n == required) {
                return Err(Error::request(format!(
                    "{} needs the form field `{required}`: add it with .field(\"{required}\", …)",
                    self.rule.endpoint
                )));
            }
        }
        for (name, slot) in &self.meta {
            if matches!(slot, Slot::Computed(MetaValue::Required)) {
                return Err(Error::request(format!(
                    "{} needs the meta field `{name}`: add it with .meta(\"{name}\", …)",
                    self.rule.endpoint
                )));
            }
        }
        let by_name = FileKind::from_name(name);
        let kind = sniffed.or(by_name);
        if !self.rule.accepts.is_empty() {
            let accepted = |k: FileKind| self.rule.accepts.iter().any(|(a, _)| *a == k);
            if !by_name.is_some_and(accepted) {
                let suffixes: Vec<String> = self
                    .rule
                    .accepts
                    .iter()
                    .flat_map(|(k, _)| k.extensions().iter().map(|e| format!(".{e}")))
                    .collect();
                return Err(Error::request(format!(
                    "{} needs a file name ending in {}; `{name}` does not",
                    self.rule.endpoint,
                    suffixes.join(", ")
                )));
            }
            if let Some(sniffed) = sniffed.filter(|k| !accepted(*k)) {
                return Err(Error::request(format!(
                    "`{name}` is a {sniffed} file (by its content), but {} accepts {}",
                    self.rule.endpoint,
                    self.rule.accepted_names()
                )));
            }
        }
        let documented = self.rule.limit_for(kind);
        let limit = match self.max_size {
            Some(max) if self.rule.accepts.is_empty() => max,
            Some(max) => max.min(documented),
            None => documented,
        };
        Ok(Checked { kind, limit })
    }

    fn assemble(
        self,
        file: Vec<u8>,
        kind: Option<FileKind>,
        digests: Digests,
    ) -> Result<Multipart, Error> {
        let sha256 = digests.sha256.finish().to_hex();
        let sm3 = digests.sm3.map(|h| h.finish().to_hex());
        let mut meta = String::from("{");
        for (name, slot) in &self.meta {
            let value = match slot {
                Slot::Given(value) => value.clone(),
                Slot::Computed(computed) => match computed {
                    MetaValue::FileName => self.file_name.clone().into(),
                    MetaValue::Sha256 => sha256.clone().into(),
                    MetaValue::Sha256Upper => sha256.to_ascii_uppercase().into(),
                    MetaValue::Sm3 => sm3.clone().unwrap_or_default().into(),
                    MetaValue::FileType => {
                        kind.map_or("", FileKind::name).to_ascii_uppercase().into()
                    }
                    MetaValue::Text(text) => (*text).into(),
                    MetaValue::Optional => continue,
                    MetaValue::Required => {
                        return Err(Error::request(format!("meta field `{name}` has no value")))
                    }
                },
            };
            if meta.len() > 1 {
                meta.push(',');
            }
            meta.push_str(&json(&serde_json::Value::from(name.as_str())));
            meta.push(':');
            meta.push_str(&json(&value));
        }
        meta.push('}');

        let boundary = match &self.boundary {
            Some(boundary) => {
                check_boundary(boundary)?;
                boundary.clone()
            }
            None => format!("wechatpay-{}", crate::crypto::random_nonce(32)?),
        };
        let occurs =
            |haystack: &[u8]| memchr::memmem::find(haystack, boundary.as_bytes()).is_some();
        if occurs(&file)
            || occurs(meta.as_bytes())
            || occurs(self.file_name.as_bytes())
            || occurs(self.file_field.as_bytes())
            || self
                .fields
                .iter()
                .any(|(n, v)| occurs(n.as_bytes()) || occurs(v.as_bytes()))
        {
            return Err(Error::request(format!(
                "the boundary `{boundary}` occurs in the data: choose another (or leave it random)"
            )));
        }
        for (name, _) in &self.fields {
            if name
                .chars()
                .any(|c| matches!(c, '"' | '\\' | '\r' | '\n' | '\0'))
            {
                return Err(Error::request(format!(
                    "the form field name `{}` contains a quote or line break",
                    name.escape_debug()
                )));
            }
        }

        let file_content_type = kind.map_or("application/octet-stream", FileKind::content_type);
        let mut body = Vec::with_capacity(file.len() + meta.len() + 512);
        let mut part = |headers: &str, content: &[u8]| {
            body.extend_from_slice(b"--");
            body.extend_from_slice(boundary.as_bytes());
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(headers.as_bytes());
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        };
        part(
            "Content-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json",
            meta.as_bytes(),
        );
        for (name, value) in &self.fields {
            part(
                &format!("Content-Disposition: form-data; name=\"{name}\""),
                value.as_bytes(),
            );
        }
        part(
            &format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {file_content_type}",
                self.file_field, self.file_name
            ),
            &file,
        );
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"--\r\n");

        Ok(Multipart {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            boundary,
            body,
            meta,
            file_content_type,
            kind,
            file_len: file.len() as u64,
            sha256,
        })
    }
}

struct Checked {
    kind: Option<FileKind>,
    limit: u64,
}

struct Digests {
    sha256: Hasher,
    sm3: Option<Hasher>,
}

impl Digests {
    fn new(meta: &[(String, Slot)]) -> Digests {
        let needs_sm3 = meta
            .iter()
            .any(|(_, slot)| matches!(slot, Slot::Computed(MetaValue::Sm3)));
        Digests {
            sha256: Hasher::new(HashType::Sha256),
            sm3: needs_sm3.then(|| Hasher::new(HashType::Sm3)),
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some(sm3) = &mut self.sm3 {
            sm3.update(data);
        }
    }
}

fn json(value: &serde_json::Value) -> String {
    // Serializing a Value cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// RFC 2046: 1-70 characters of `bchars`, not ending in a space.
fn check_boundary(boundary: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "'()+_,-./:=? ".contains(c);
    if boundary.is_empty()
        || boundary.len() > 70
        || boundary.ends_with(' ')
        || !boundary.chars().all(allowed)
    {
        return Err(Error::request(format!(
            "`{boundary}` is not a multipart boundary: use 1-70 letters, digits or '()+_,-./:=? (not ending in a space)"
        )));
    }
    Ok(())
}

/// A built upload body.
#[derive(Clone)]
pub struct Multipart {
    body: Vec<u8>,
    content_type: String,
    boundary: String,
    meta: String,
    file_content_type: &'static str,
    kind: Option<FileKind>,
    file_len: u64,
    sha256: String,
}

impl Multipart {
    /// The whole `multipart/form-data` body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, taken.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The request's `Content-Type` header value, with the boundary.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The boundary.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The `meta` part's JSON text: the BODY of the signed message.
    pub fn meta(&self) -> &str {
        &self.meta
    }

    /// The file part's `Content-Type`.
    pub fn file_content_type(&self) -> &str {
        self.file_content_type
    }

    /// The file's kind, if known.
    pub fn file_kind(&self) -> Option<FileKind> {
        self.kind
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The file's SHA-256, lowercase hex.
    pub fn sha256_hex(&self) -> &str {
        &self.sha256
    }
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart")
            .field("content_type", &self.content_type)
            .field("meta", &self.meta)
            .field("file_content_type", &self.file_content_type)
            .field("file_len", &self.file_len)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";

    #[test]
    fn the_table_has_the_fourteen_catalog_endpoints() {
        assert_eq!(UploadRule::all().len(), 14);
        for rule in UploadRule::all() {
            assert_eq!(UploadRule::find(rule.endpoint), Some(rule));
            assert_eq!(
                UploadRule::find(&format!("/{}?x=1", rule.endpoint)),
                Some(rule)
            );
            assert!(!rule.source.is_empty());
        }
        let path = "v3/marketing/bank/packages/8473295/tasks";
        assert_eq!(UploadRule::find(path).unwrap().meta[0].0, "bank_type");
    }

    #[test]
    fn kinds_by_magic_and_by_name() {
        let cases: &[(&[u8], FileKind)] = &[
            (b"GIF89a....", FileKind::Gif),
            (b"BM\x36\0\0\0\0\0\0\0\x36\0", FileKind::Bmp),
            (b"RIFF\0\0\0\0WEBPVP8 ", FileKind::Webp),
            (b"RIFF\0\0\0\0AVI LIST", FileKind::Avi),
            (b"%PDF-1.7\n", FileKind::Pdf),
            (b"\0\0\0\x20ftypisom", FileKind::Mp4),
            (b"\0\0\0\x20ftypM4V ", FileKind::M4v),
            (b"\x30\x26\xB2\x75\x8E\x66\xCF\x11\xA6\xD9", FileKind::Wmv),
            (b"\0\0\x01\xBA\x44", FileKind::Mpeg),
            (b"FLV\x01\x05", FileKind::Flv),
            (b"\x1A\x45\xDF\xA3\x9F", FileKind::Mkv),
            (b".RMF\0\0\0\x12", FileKind::Rmvb),
        ];
        for (head, kind) in cases {
            assert_eq!(FileKind::sniff(head), Some(*kind));
        }
        assert_eq!(FileKind::from_name("发票.OFD"), Some(FileKind::Ofd));
        assert_eq!(FileKind::from_name("a.JPEG"), Some(FileKind::Jpeg));
        assert_eq!(FileKind::from_name("README"), None);
    }

    #[test]
    fn meta_keeps_the_documented_order_and_given_fields() {
        let form =
            UploadForm::for_endpoint("v3/marketing/bank/packages/{package_id}/tasks", "users.csv")
                .meta("bank_type", "ICBC_DEBIT")
                .meta("note", serde_json::json!({"x": 1}))
                .from_bytes(b"1\n2\n".to_vec())
                .unwrap();
        let sha = form.sha256_hex().to_owned();
        assert_eq!(
            form.meta(),
            format!(
                r#"{{"bank_type":"ICBC_DEBIT","filename":"users.csv","sha256":"{sha}","note":{{"x":1}}}}"#
            )
        );
        assert_eq!(form.file_content_type(), "text/csv");

        let receipt =
            UploadForm::for_endpoint("v3/marketing/shopping-receipt/shoppingreceipts", "r.png")
                .meta("openid", "oUpF8u")
                .meta("transaction_id", "4200")
                .meta("out_trade_no", "SBX1")
                .from_bytes(PNG.to_vec())
                .unwrap();
        let sha = receipt.sha256_hex();
        assert_eq!(
            receipt.meta(),
            format!(
                r#"{{"transaction_id":"4200","out_trade_no":"SBX1","openid":"oUpF8u","sha256":"{sha}"}}"#
            )
        );
    }

    #[test]
    fn sm3_layouts() {
        let pdf = b"%PDF-1.4\n...".to_vec();
        let form = UploadForm::for_endpoint(
            "v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file",
            "f.pdf",
        )
        .from_bytes(pdf.clone())
        .unwrap();
        let sm3 = crate::download::Digest::of(HashType::Sm3, &pdf).to_hex();
        assert_eq!(
            form.meta(),
            format!(r#"{{"file_type":"PDF","digest_alogrithm":"SM3","digest":"{sm3}"}}"#)
        );
        let upper =
            UploadForm::for_endpoint("v3/mch-manage/submission-files/sub-mchid/1/upload", "a.png")
                .field("item_id", "56")
                .field("manage_record_id", "M1")
                .from_bytes(PNG.to_vec())
                .unwrap();
        assert!(upper
            .meta()
            .contains(&upper.sha256_hex().to_ascii_uppercase()));
        let body = String::from_utf8_lossy(upper.body()).into_owned();
        assert!(body.contains("name=\"item_id\"\r\n\r\n56\r\n"), "{body}");
        assert!(
            body.contains("name=\"submission_file\"; filename=\"a.png\""),
            "{body}"
        );
    }

    #[test]
    fn limits_and_mistakes_are_refused_before_sending() {
        let media = |name: &str, data: Vec<u8>| {
            UploadForm::for_endpoint("v3/merchant/media/upload", name).from_bytes(data)
        };
        let mut big = PNG.to_vec();
        big.resize(5 * MIB as usize + 1, 0);
        let err = media("a.png", big).unwrap_err().to_string();
        assert!(
            err.contains("too large") && err.contains("PNG files up to 5 MiB"),
            "{err}"
        );
        let mut pdf = b"%PDF-1.7".to_vec();
        pdf.resize(7 * MIB as usize, 0);
        assert!(media("a.pdf", pdf).is_ok());
        let err = media("a.gif", b"GIF89a".to_vec()).unwrap_err().to_string();
        assert!(
            err.contains("ending in .jpg, .jpeg, .bmp, .png, .pdf"),
            "{err}"
        );
        let err = media("a.png", b"GIF89a".to_vec()).unwrap_err().to_string();
        assert!(err.contains("is a GIF file (by its content)"), "{err}");
        let err = media("a\".png", PNG.to_vec()).unwrap_err().to_string();
        assert!(err.contains("rename the file"), "{err}");
        let err = UploadForm::for_endpoint("v3/taxi-invoice/cards/upload-file", "t.pdf")
            .meta("company_mchid", "1900000109")
            .from_bytes(b"%PDF".to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("meta field `region_id`"), "{err}");
        let err = UploadForm::new("a.png")
            .meta("sha256", "x")
            .from_bytes(PNG.to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("computed from the file"), "{err}");
        let err = UploadForm::new("a.png")
            .boundary("IHDR")
            .from_bytes(PNG.to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("occurs in the data"), "{err}");
        assert!(UploadForm::new("a.png")
            .boundary("bad\"b")
            .from_bytes(PNG.to_vec())
            .is_err());
        let err = UploadForm::new("a.bin")
            .max_size(3)
            .from_bytes(PNG.to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("too large"), "{err}");
    }

    #[tokio::test]
    async fn readers_stop_at_the_limit_and_match_bytes() {
        let mut data = PNG.to_vec();
        data.extend((0..100_000u32).flat_map(|i| i.to_le_bytes()));
        let from_bytes = UploadForm::new("a.png")
            .boundary("test-boundary-0123456789")
            .from_bytes(data.clone())
            .unwrap();
        let from_reader = UploadForm::new("a.png")
            .boundary("test-boundary-0123456789")
            .from_reader(&data[..])
            .await
            .unwrap();
        assert_eq!(from_bytes.body(), from_reader.body());

        struct Endless(u64);
        impl AsyncRead for Endless {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let n = buf.remaining().min(4096);
                buf.put_slice(&vec![0x42; n]);
                self.0 += n as u64;
                std::task::Poll::Ready(Ok(()))
            }
        }
        let mut endless = Endless(0);
        let err = UploadForm::for_endpoint("v3/merchant/media/video_upload", "v.mp4")
            .from_reader(&mut endless)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 5242880 bytes"), "{err}");
        assert!(
            endless.0 < 5 * MIB + (128 << 10),
            "read {} bytes",
            endless.0
        );
    }
}
