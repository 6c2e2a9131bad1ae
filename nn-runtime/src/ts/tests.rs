use std::io::Write;

use super::*;

/// Two cases of 2 channels × 3 steps; the line numbers below count from the comment (line 1)
/// to the cases (lines 11 and 12).
const TINY: &str = "\
# Two cases of 2 channels x 3 steps.
@problemName Tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true up down
@data
1,2.5,-3e-2:10,20,30:up
3,2,1:30,20,10.125:down
";

/// The message of the error `text` gives, read as `t.ts`.
fn error(text: &str) -> String {
    parse(text, "t.ts").unwrap_err().to_string()
}

/// `TINY` with `from` replaced by `to` (which must occur).
fn tiny_with(from: &str, to: &str) -> String {
    assert!(TINY.contains(from), "{from}");
    TINY.replacen(from, to, 1)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_small_file_round_trips() {
    let tiny = parse(TINY, "tiny.ts").unwrap();
    assert_eq!(tiny.file(), Path::new("tiny.ts"));
    assert_eq!(
        *tiny.header(),
        Header {
            problem_name: Some("Tiny".into()),
            timestamps: Some(false),
            missing: Some(false),
            univariate: Some(false),
            dimensions: Some(2),
            equal_length: Some(true),
            series_length: Some(3),
            class_label: true,
            classes: vec!["up".into(), "down".into()],
        }
    );
    assert_eq!(tiny.classes(), ["up", "down"]);
    assert_eq!((tiny.len(), tiny.channels()), (2, 2));
    assert_eq!(tiny.length_range(), (3, 3));
    assert_eq!(tiny.series_length(), Some(3));
    let [first, second] = tiny.cases() else {
        panic!("two cases")
    };
    assert_eq!((first.line(), first.label()), (11, Some(0)));
    assert_eq!((second.line(), second.label()), (12, Some(1)));
    assert_eq!((first.channels(), first.steps()), (2, 3));
    assert_eq!(first.values(), [1.0, 2.5, -0.03, 10.0, 20.0, 30.0]);
    assert_eq!(second.channel(0), [3.0, 2.0, 1.0]);
    assert_eq!(second.channel(1), [30.0, 20.0, 10.125]);
    assert_eq!(second.step::<f32, 2>(2).as_slice(), [1.0, 10.125]);
}

#[test]
fn a_dataset_flattens_channels_first_with_one_hot_targets() {
    let tiny = parse(TINY, "tiny.ts").unwrap();
    let data: Dataset<f64, 6, 2> = tiny.dataset().unwrap();
    assert_eq!(data.len(), 2);
    // x[c * L + t], bit-equal to the parsed f64.
    assert_eq!(
        data.inputs.column(0).as_slice(),
        [1.0, 2.5, -3e-2, 10.0, 20.0, 30.0]
    );
    assert_eq!(
        data.inputs.column(1).as_slice(),
        [3.0, 2.0, 1.0, 30.0, 20.0, 10.125]
    );
    assert_eq!(data.targets.as_slice(), [1.0, 0.0, 0.0, 1.0]);
    // f32 is the f64 value rounded, as NumPy's astype(float32).
    let data: Dataset<f32, 6, 2> = tiny.dataset().unwrap();
    assert_eq!(data.inputs[(2, 0)], -3e-2f64 as f32);
}

#[test]
fn sequences_are_steps_of_every_channel() {
    let text = "\
@dimensions 2
@equalLength false
@classLabel true a b
@data
1,2:3,4:b
5:6:a
";
    let file = parse(text, "var.ts").unwrap();
    assert_eq!(file.length_range(), (1, 2));
    assert_eq!(file.series_length(), None);
    let sequences = file.sequences::<f64, 2>().unwrap();
    assert_eq!(sequences.len(), 2);
    assert_eq!(sequences[0].label, 1);
    let steps: Vec<[f64; 2]> = sequences[0].steps.iter().map(|s| [s.x, s.y]).collect();
    assert_eq!(steps, [[1.0, 3.0], [2.0, 4.0]]);
    assert_eq!(sequences[1].label, 0);
    assert_eq!(sequences[1].steps, [SVector::from([5.0, 6.0])]);
}

#[test]
fn gzipped_text_reads_as_the_plain_text() {
    let plain = from_reader(TINY.as_bytes(), "tiny.ts").unwrap();
    assert_eq!(plain, parse(TINY, "tiny.ts").unwrap());
    let gzipped = from_reader(&gzip(TINY.as_bytes())[..], "tiny.ts").unwrap();
    assert_eq!(gzipped, plain);
    // Two gzip members are one stream, as for gunzip.
    let (head, tail) = TINY.split_at(100);
    let mut members = gzip(head.as_bytes());
    members.extend(gzip(tail.as_bytes()));
    assert_eq!(from_reader(&members[..], "tiny.ts").unwrap(), plain);
}

#[test]
fn read_opens_plain_and_gzipped_files() {
    let dir = std::env::temp_dir().join(alloc::format!("nn-ts-read-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (plain, gzipped) = (dir.join("tiny.ts"), dir.join("tiny.ts.gz"));
    std::fs::write(&plain, TINY).unwrap();
    std::fs::write(&gzipped, gzip(TINY.as_bytes())).unwrap();
    let from_plain = read(&plain).unwrap();
    let from_gzipped = read(&gzipped).unwrap();
    assert_eq!(from_plain.file(), plain);
    assert_eq!(from_plain.cases(), from_gzipped.cases());

    let missing = dir.join("missing.ts");
    let error = read(&missing).unwrap_err();
    assert!(matches!(error, TsError::Read { .. }), "{error}");
    assert!(
        error.to_string().starts_with(&alloc::format!(
            "cannot read `.ts` file `{}`: ",
            missing.display()
        )),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn layout_variations_sktime_accepts_are_read() {
    // Windows line ends, a byte-order mark, blank lines, spaces, keywords in any case,
    // comments among the cases, no final line end.
    let text = "\u{feff}# BOM\r\n\r\n@PROBLEMNAME Odd Name\r\n@ClassLabel TRUE x y\r\n\
                @DATA\r\n  1 , 2 : x \r\n# a comment\r\n\r\n3,4:y";
    let file = parse(text, "odd.ts").unwrap();
    assert_eq!(file.header().problem_name.as_deref(), Some("Odd Name"));
    assert_eq!(file.channels(), 1);
    assert_eq!(file.cases()[0].values(), [1.0, 2.0]);
    assert_eq!(file.cases()[1].values(), [3.0, 4.0]);
    assert_eq!(file.cases()[1].line(), 9);
    assert_eq!(file.cases()[1].label(), Some(1));
}

#[test]
fn dimensions_come_from_the_header_or_the_first_case() {
    // Neither `@dimensions` nor `@univariate true`: the first case says 3.
    let text = "@classLabel true a\n@data\n1:2:3:a\n4:5:a\n";
    assert_eq!(
        error(text),
        "`.ts` file `t.ts`, line 4: case 2 has 3 fields but 4 expected (3 dimensions, then \
         the class label); a case lists every dimension, separated by `:`, then `:` and its \
         class label"
    );
    // `@univariate true` means 1.
    let text = "@univariate true\n@classLabel true a\n@data\n1:2:a\n";
    assert_eq!(
        error(text),
        "`.ts` file `t.ts`, line 4: case 1 has 3 fields but 2 expected (1 dimension, then \
         the class label); a case lists every dimension, separated by `:`, then `:` and its \
         class label"
    );
}

#[test]
fn unlabelled_files_have_cases_without_labels() {
    let text = "@classLabel false\n@data\n1,2:3,4\n";
    let file = parse(text, "u.ts").unwrap();
    assert!(file.classes().is_empty());
    assert_eq!(file.cases()[0].label(), None);
    assert_eq!(file.channels(), 2);
    let message = "`.ts` file `u.ts` has no class labels (`@classLabel false`); read its cases \
                   directly";
    assert_eq!(
        file.dataset::<f32, 4, 1>().unwrap_err().to_string(),
        message
    );
    assert_eq!(file.sequences::<f32, 2>().unwrap_err().to_string(), message);
    // Without labels, a case is its dimensions only.
    assert_eq!(
        error("@classLabel false\n@data\n1:2\n3:4:5\n"),
        "`.ts` file `t.ts`, line 4: case 2 has 3 fields but 2 expected (2 dimensions); a \
         case lists every dimension, separated by `:`"
    );
}

#[test]
fn an_empty_file_is_named() {
    for text in ["", "\n  \n\r\n"] {
        assert_eq!(
            error(text),
            "`.ts` file `t.ts` is empty; it needs headers such as `@classLabel`, then `@data` \
             and one case per line"
        );
    }
}

#[test]
fn a_file_without_data_is_named() {
    assert_eq!(
        error("# only a comment\n@classLabel true a\n"),
        "`.ts` file `t.ts` has no `@data` line; the cases follow a line `@data` after the \
         headers"
    );
    assert_eq!(
        error("@classLabel true a\n@data\n\n# nothing\n"),
        "`.ts` file `t.ts`, line 2: no cases after `@data`; write one case per line"
    );
}

#[test]
fn an_unknown_header_lists_the_known_ones() {
    assert_eq!(
        error(&tiny_with("@missing false", "@mising false")),
        "`.ts` file `t.ts`, line 4: unknown header `@mising`; the headers are @problemName, \
         @timeStamps, @missing, @univariate, @dimensions, @equalLength, @seriesLength, \
         @classLabel and @data"
    );
}

#[test]
fn header_values_are_checked() {
    let cases = [
        (
            "@univariate false",
            "@univariate no",
            "line 5: `@univariate` takes `true` or `false`, found `no`",
        ),
        (
            "@missing false",
            "@missing",
            "line 4: `@missing` takes `true` or `false`, found nothing",
        ),
        (
            "@dimensions 2",
            "@dimensions 0",
            "line 6: `@dimensions` takes a positive whole number, found `0`",
        ),
        (
            "@seriesLength 3",
            "@seriesLength 3.5",
            "line 8: `@seriesLength` takes a positive whole number, found `3.5`",
        ),
        (
            "@problemName Tiny",
            "@problemName",
            "line 2: `@problemName` takes a name, found nothing",
        ),
        (
            "@classLabel true up down",
            "@classLabel true",
            "line 9: `@classLabel` takes `true` and the class names, or `false`, found `true`",
        ),
        (
            "@classLabel true up down",
            "@classLabel false up down",
            "line 9: `@classLabel` takes `true` and the class names, or `false`, found \
             `false up down`",
        ),
        (
            "@classLabel true up down",
            "@classLabel up down",
            "line 9: `@classLabel` takes `true` and the class names, or `false`, found \
             `up down`",
        ),
        (
            "@data",
            "@data 2",
            "line 10: `@data` takes nothing, found `2`",
        ),
    ];
    for (from, to, message) in cases {
        assert_eq!(
            error(&tiny_with(from, to)),
            alloc::format!("`.ts` file `t.ts`, {message}")
        );
    }
}

#[test]
fn a_header_twice_is_an_error() {
    assert_eq!(
        error(&tiny_with(
            "@seriesLength 3",
            "@seriesLength 3\n@DIMENSIONS 2"
        )),
        "`.ts` file `t.ts`, line 9: `@dimensions` appears twice (first on line 6); keep one"
    );
}

#[test]
fn univariate_with_more_dimensions_is_a_contradiction() {
    assert_eq!(
        error(&tiny_with("@univariate false", "@univariate true")),
        "`.ts` file `t.ts`, line 6: `@dimensions 2` contradicts `@univariate true` on line 5; \
         a univariate file has 1 dimension"
    );
}

#[test]
fn a_class_declared_twice_is_an_error() {
    assert_eq!(
        error(&tiny_with("true up down", "true up down up")),
        "`.ts` file `t.ts`, line 9: `@classLabel` declares class `up` twice; each class is \
         named once"
    );
}

#[test]
fn timestamps_and_regression_targets_are_rejected() {
    assert_eq!(
        error(&tiny_with("@timeStamps false", "@timeStamps true")),
        "`.ts` file `t.ts`, line 3: a series with timestamps (`@timeStamps true`) is not \
         supported; write the values without timestamps"
    );
    assert_eq!(
        error(&tiny_with("@classLabel true up down", "@targetLabel true")),
        "`.ts` file `t.ts`, line 9: a regression target (`@targetLabel true`) is not \
         supported; this reader loads classification files, whose cases end with a class label"
    );
    // `@targetLabel false` says no more than its absence.
    let text = tiny_with(
        "@classLabel true up down",
        "@targetLabel false\n@classLabel true up down",
    );
    assert_eq!(parse(&text, "t.ts").unwrap().len(), 2);
}

#[test]
fn class_label_must_be_declared_before_data() {
    assert_eq!(
        error(&tiny_with("@classLabel true up down\n", "")),
        "`.ts` file `t.ts`, line 9: no `@classLabel` header before `@data`; declare \
         `@classLabel true` and the class names, or `@classLabel false` for cases without \
         labels"
    );
}

#[test]
fn headers_after_data_and_cases_before_it_are_errors() {
    assert_eq!(
        error(&alloc::format!("{TINY}@seriesLength 3\n")),
        "`.ts` file `t.ts`, line 13: header `@seriesLength` after `@data`; headers go before \
         `@data`"
    );
    assert_eq!(
        error(&tiny_with("@data\n", "")),
        "`.ts` file `t.ts`, line 10: `1,2.5,-3e-2:10,20,30:up` is neither a header (`@…`) nor \
         a comment (`#…`); cases go after `@data`"
    );
    // A CSV file, say: the quoted text is cut at 40 characters.
    assert_eq!(
        error("pixel_0_0,pixel_0_1,pixel_0_2,pixel_0_3,pixel_0_4,label\n"),
        "`.ts` file `t.ts`, line 1: `pixel_0_0,pixel_0_1,pixel_0_2,pixel_0_3,…` is neither a \
         header (`@…`) nor a comment (`#…`); cases go after `@data`"
    );
}

#[test]
fn a_case_with_the_wrong_number_of_dimensions_is_named() {
    assert_eq!(
        error(&tiny_with("3,2,1:30,20,10.125:down", "3,2,1:down")),
        "`.ts` file `t.ts`, line 12: case 2 has 2 fields but 3 expected (2 dimensions, then \
         the class label); a case lists every dimension, separated by `:`, then `:` and its \
         class label"
    );
    assert_eq!(
        error(&tiny_with("3,2,1:30,20,10.125:down", "3,2,1:30,20,10.125")),
        "`.ts` file `t.ts`, line 12: case 2 has 2 fields but 3 expected (2 dimensions, then \
         the class label); a case lists every dimension, separated by `:`, then `:` and its \
         class label"
    );
}

#[test]
fn bad_values_are_named_by_case_dimension_and_position() {
    let cases = [
        (
            "10,20,30:up",
            "10,x,30:up",
            "value 2 of dimension 2 of case 1 is `x`, not a finite number",
        ),
        (
            "10,20,30:up",
            "10,NaN,30:up",
            "value 2 of dimension 2 of case 1 is `NaN`, not a finite number",
        ),
        (
            "1,2.5,",
            "inf,2.5,",
            "value 1 of dimension 1 of case 1 is `inf`, not a finite number",
        ),
        (
            "1,2.5,",
            "1e999,2.5,",
            "value 1 of dimension 1 of case 1 is `1e999`, not a finite number",
        ),
        (
            "10,20,30:up",
            "10,,30:up",
            "value 2 of dimension 2 of case 1 is empty; values are separated by single commas",
        ),
        (
            "10,20,30:up",
            "10,20,30,:up",
            "value 4 of dimension 2 of case 1 is empty; values are separated by single commas",
        ),
        (
            "10,20,30:up",
            ":up",
            "value 1 of dimension 2 of case 1 is empty; values are separated by single commas",
        ),
        (
            "10,20,30:up",
            "10,?,30:up",
            "value 2 of dimension 2 of case 1 is missing (`?`); this reader takes complete \
             series: fill in or drop the missing values first",
        ),
    ];
    for (from, to, message) in cases {
        assert_eq!(
            error(&tiny_with(from, to)),
            alloc::format!("`.ts` file `t.ts`, line 11: {message}")
        );
    }
}

#[test]
fn dimensions_of_one_case_have_one_length() {
    assert_eq!(
        error(&tiny_with("30,20,10.125:down", "30,20:down")),
        "`.ts` file `t.ts`, line 12: dimension 2 of case 2 has 2 values but dimension 1 has 3; \
         the dimensions of a case have the same length"
    );
}

#[test]
fn lengths_follow_series_length_and_equal_length() {
    // Against `@seriesLength`.
    assert_eq!(
        error(&tiny_with("3,2,1:30,20,10.125", "3,2:30,20")),
        "`.ts` file `t.ts`, line 12: case 2 has 2 steps but `@seriesLength` is 3; fix the \
         case or declare `@equalLength false`"
    );
    // `@equalLength true` alone: against the first case.
    let text = tiny_with("@seriesLength 3\n", "");
    assert_eq!(
        error(&text.replace("3,2,1:30,20,10.125", "3,2,1,0:30,20,10,0")),
        "`.ts` file `t.ts`, line 11: case 2 has 4 steps but the first case has 3 and \
         `@equalLength` is true; fix the case or declare `@equalLength false`"
    );
    // `@equalLength false`: any lengths, whatever `@seriesLength` says.
    let text = tiny_with("@equalLength true", "@equalLength false");
    let file = parse(&text.replace("3,2,1:30,20,10.125", "3:30"), "t.ts").unwrap();
    assert_eq!(file.length_range(), (1, 3));
}

#[test]
fn an_undeclared_label_lists_the_declared_ones() {
    assert_eq!(
        error(&tiny_with(":down", ":Down")),
        "`.ts` file `t.ts`, line 12: case 2 has class label `Down`, which `@classLabel` does \
         not declare (it declares `up`, `down`); add it there or fix the case"
    );
}

#[test]
fn text_that_is_not_utf8_is_named_by_line() {
    let mut bytes = TINY.as_bytes().to_vec();
    let at = TINY.find("20,30").unwrap();
    bytes[at] = 0xff;
    let error = from_reader(&bytes[..], "t.ts").unwrap_err();
    assert_eq!(
        error.to_string(),
        "`.ts` file `t.ts`, line 11: not UTF-8 text; a `.ts` file is text"
    );
    assert_eq!((error.file(), error.line()), (Path::new("t.ts"), Some(11)));
}

#[test]
fn corrupt_gzip_is_reported() {
    let compressed = gzip(TINY.as_bytes());
    let cut = &compressed[..compressed.len() / 2];
    let error = from_reader(cut, "t.ts.gz").unwrap_err();
    assert!(matches!(error, TsError::Gzip { .. }), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("`.ts` file `t.ts.gz`: invalid gzip data: "),
        "{error}"
    );
    let mut trailing = compressed.clone();
    trailing.extend_from_slice(b"junk");
    let error = from_reader(&trailing[..], "t.ts.gz").unwrap_err();
    assert!(matches!(error, TsError::Gzip { .. }), "{error}");
}

#[test]
fn conversions_check_the_network_shape() {
    let tiny = parse(TINY, "tiny.ts").unwrap();
    assert_eq!(
        tiny.dataset::<f32, 5, 2>().unwrap_err().to_string(),
        "`.ts` file `tiny.ts`: cases are 2 channels × 3 steps = 6 values but the network takes \
         5 inputs"
    );
    assert_eq!(
        tiny.dataset::<f32, 6, 3>().unwrap_err().to_string(),
        "`.ts` file `tiny.ts` declares 2 classes but the network has 3 outputs"
    );
    assert_eq!(
        tiny.sequences::<f32, 3>().unwrap_err().to_string(),
        "`.ts` file `tiny.ts`: cases have 2 channels but steps of 3 were asked for"
    );
    let text = tiny_with("@equalLength true", "@equalLength false");
    let ragged = parse(&text.replace("3,2,1:30,20,10.125", "3:30"), "ragged.ts").unwrap();
    assert_eq!(
        ragged.dataset::<f32, 6, 2>().unwrap_err().to_string(),
        "`.ts` file `ragged.ts`: cases have 1 to 3 steps, but a dataset needs one length; pad \
         or truncate the cases, or read them as sequences"
    );
    assert_eq!(ragged.sequences::<f32, 2>().unwrap()[1].steps.len(), 1);
}

#[test]
fn errors_report_their_file_and_line() {
    let text = tiny_with("10,20,30:up", "10,x,30:up");
    let error = parse(&text, "t.ts").unwrap_err();
    assert_eq!((error.file(), error.line()), (Path::new("t.ts"), Some(11)));
    let error = parse("", "e.ts").unwrap_err();
    assert_eq!((error.file(), error.line()), (Path::new("e.ts"), None));
}

#[test]
fn a_header_keyword_is_what_follows_the_at_sign() {
    // `@ é`: the keyword is empty, not the next word (whose bytes once split a character).
    assert_eq!(
        error("@ é\n"),
        "`.ts` file `t.ts`, line 1: unknown header `@`; the headers are @problemName, \
         @timeStamps, @missing, @univariate, @dimensions, @equalLength, @seriesLength, \
         @classLabel and @data"
    );
    assert_eq!(
        error(&tiny_with("@data", "@ data")),
        "`.ts` file `t.ts`, line 10: unknown header `@`; the headers are @problemName, \
         @timeStamps, @missing, @univariate, @dimensions, @equalLength, @seriesLength, \
         @classLabel and @data"
    );
}

/// Mutations of a valid text (characters of the format's syntax and a few others inserted,
/// deleted or replaced) never panic, and every error about the text names its line.
#[test]
fn mutated_text_never_panics() {
    use rand::{Rng, SeedableRng};

    const ALPHABET: [char; 16] = [
        ':', ',', '?', '@', '#', '\n', '\r', ' ', '0', '7', '.', '-', 'e', 'x', 'é', '\u{feff}',
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x7e5_7e57);
    let valid: Vec<char> = TINY.chars().collect();
    let mut outcomes = [0usize; 2];
    for case in 0..3000 {
        let mut chars = valid.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..chars.len());
            let c = ALPHABET[rng.random_range(0..ALPHABET.len())];
            match rng.random_range(0..3) {
                0 => chars.insert(at, c),
                1 => {
                    chars.remove(at);
                }
                _ => chars[at] = c,
            }
        }
        let text: String = chars.into_iter().collect();
        let result = std::panic::catch_unwind(|| parse(&text, "m.ts"));
        let Ok(result) = result else {
            panic!("case {case} panicked on {text:?}")
        };
        if let Err(error) = &result {
            let file_level = matches!(error, TsError::Empty { .. } | TsError::NoData { .. });
            assert!(file_level || error.line().is_some(), "case {case}: {error}");
        }
        outcomes[usize::from(result.is_ok())] += 1;
    }
    // Both paths are exercised: most mutations break the text, some (a digit) do not.
    assert!(outcomes[0] > 1000 && outcomes[1] > 100, "{outcomes:?}");
}
