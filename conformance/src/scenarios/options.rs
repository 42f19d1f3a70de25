//! What OPTIONS advertises must hang together: an extension that builds on another comes with it, and the
//! checksum extension names its algorithms.

use super::checksum::lower_case_names;
use crate::context::Ctx;
use crate::scenario::{Level, Outcome, RequestSpec, Scenario, Target};

/// Extensions that build on another one: (the extension, the one it needs).
const BUILDS_ON: [(&str, &str); 4] = [
    ("creation-with-upload", "creation"),
    ("creation-defer-length", "creation"),
    ("checksum-trailer", "checksum"),
    ("concatenation-unfinished", "concatenation"),
];

/// The OPTIONS scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario::custom(
        "options-extensions-consistent",
        "Tus-Extension lists the extensions the listed ones build on; with checksum, Tus-Checksum-Algorithm is \
         present with lower-case names",
        "tus 1.0.0: creation-with-upload and creation-defer-length extend creation, checksum-trailer extends \
         checksum (the checksum sent as a trailer), concatenation-unfinished extends concatenation; \
         checksum: the Server lists its algorithms in Tus-Checksum-Algorithm, names without uppercase characters",
        Level::Should,
        &[],
        consistent,
    )]
}

fn consistent(ctx: &mut Ctx<'_>) -> Outcome {
    let resp = match ctx.request(&RequestSpec::new("OPTIONS", Target::Base)) {
        Ok((_, resp)) => resp,
        Err(e) => return Outcome::Error(e),
    };
    if resp.status / 100 != 2 {
        return Outcome::NotApplicable(format!("OPTIONS answered {}", resp.status));
    }
    let extensions: Vec<String> = resp.headers.list("tus-extension").iter().map(|e| e.to_ascii_lowercase()).collect();
    let algorithms = resp.headers.combined("tus-checksum-algorithm");
    match problems(&extensions, algorithms.as_deref()) {
        problems if problems.is_empty() => Outcome::Pass(format!("Tus-Extension: {}", extensions.join(","))),
        problems => Outcome::Violation(format!("Tus-Extension: {}: {}", extensions.join(","), problems.join("; "))),
    }
}

/// What does not hang together in advertised `extensions` and `Tus-Checksum-Algorithm`.
fn problems(extensions: &[String], algorithms: Option<&str>) -> Vec<String> {
    let has = |e: &str| extensions.iter().any(|x| x == e);
    let mut problems: Vec<String> = BUILDS_ON
        .iter()
        .filter(|(ext, needs)| has(ext) && !has(needs))
        .map(|(ext, needs)| format!("{ext} without {needs}"))
        .collect();
    if has("checksum") {
        match algorithms.map(lower_case_names) {
            None => problems.push("checksum without Tus-Checksum-Algorithm".into()),
            Some(Err(why)) => problems.push(why),
            Some(Ok(names)) if names.is_empty() => {
                problems.push("checksum with an empty Tus-Checksum-Algorithm".into())
            }
            Some(Ok(_)) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn dependencies() {
        assert!(problems(&list("creation,creation-with-upload,creation-defer-length"), None).is_empty());
        assert_eq!(problems(&list("creation-with-upload"), None), ["creation-with-upload without creation"]);
        assert_eq!(problems(&list("checksum-trailer,checksum"), Some("sha1")).len(), 0);
        assert_eq!(problems(&list("checksum-trailer"), None), ["checksum-trailer without checksum"]);
        assert_eq!(problems(&list("concatenation-unfinished"), None).len(), 1);
        assert_eq!(problems(&list("checksum"), None), ["checksum without Tus-Checksum-Algorithm"]);
        assert_eq!(problems(&list("checksum"), Some("SHA1")).len(), 1);
        assert_eq!(problems(&list("checksum"), Some(" , ")).len(), 1);
    }
}
