//! Scenarios as data: what is checked, against which clause, how strictly, and the requests that check it.
//!
//! A [`Scenario`] is either a list of [`Step`]s (a request, the expectations on its response, and values captured
//! for later steps, such as the `Location` of a created upload) or, for network faults that need several
//! connections and timing, a [`Procedure::Custom`] function over a [`Ctx`]. Values of earlier
//! steps are used through `{name}` templates in header values (`{offset}`) and through [`Target::Var`].

use std::time::Duration;

use serde::Serialize;

use crate::client::{AfterCut, Delivery, Framing};
use crate::context::Ctx;

/// How strictly a rule binds, which decides what a violation means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    /// A MUST of the core protocol: a violation fails the run.
    Must,
    /// A MUST of an extension the server advertises: a violation fails the run.
    Extension(&'static str),
    /// A SHOULD: a violation is a warning (a failure with `--strict`).
    Should,
    /// Recommended practice (later protocol texts, tussi behaviour): a violation is a warning.
    Recommended,
    /// The specification leaves this free: the scenario only reports what the server does.
    Informational,
}

impl Level {
    /// Label used in reports (`MUST`, `creation`, `SHOULD`, `RECOMMENDED`, `INFO`).
    pub fn label(&self) -> String {
        match self {
            Level::Must => "MUST".into(),
            Level::Extension(name) => format!("MUST ({name})"),
            Level::Should => "SHOULD".into(),
            Level::Recommended => "RECOMMENDED".into(),
            Level::Informational => "INFO".into(),
        }
    }
}

/// Something a scenario needs from the server or the transport; without it the scenario is not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// The server lists this extension in `Tus-Extension`.
    Extension(&'static str),
    /// The server advertises `Tus-Max-Size`.
    MaxSize,
    /// Real sockets (stalls, concurrent connections, timing).
    Wire,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The base URL given to the suite (the creation endpoint).
    Base,
    /// A URL captured by an earlier step (for example `upload`).
    Var(&'static str),
    /// A well-formed upload URL that does not exist: the first upload URL the run got from a `Location`, with its
    /// last path segment replaced by a fresh random UUID (same path prefix, same query); before any upload was
    /// created (creation not offered, or every POST refused), a fresh UUID under the base path.
    Unknown,
}

/// A request to send, before templates are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    /// Method on the request line.
    pub method: String,
    /// Where it goes.
    pub target: Target,
    /// `Tus-Resumable` value to send (None: no such header). Defaults to `1.0.0` except for OPTIONS.
    pub tus_resumable: Option<String>,
    /// Extra header lines, values may contain `{var}` templates.
    pub headers: Vec<(String, String)>,
    /// Body payload.
    pub body: Vec<u8>,
    /// Body framing.
    pub framing: Framing,
    /// Body delivery (pieces, pauses, cut-off).
    pub delivery: Delivery,
}

impl RequestSpec {
    /// A request with the default `Tus-Resumable` (none for OPTIONS).
    pub fn new(method: &str, target: Target) -> RequestSpec {
        let tus = (!method.eq_ignore_ascii_case("OPTIONS")).then(|| "1.0.0".to_string());
        RequestSpec {
            method: method.to_string(),
            target,
            tus_resumable: tus,
            headers: Vec::new(),
            body: Vec::new(),
            framing: Framing::Auto,
            delivery: Delivery::default(),
        }
    }

    /// Adds a header line (value may use `{var}` templates).
    pub fn header(mut self, name: &str, value: &str) -> RequestSpec {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets `Tus-Resumable` to this value, or removes it with None.
    pub fn tus(mut self, version: Option<&str>) -> RequestSpec {
        self.tus_resumable = version.map(str::to_string);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &[u8]) -> RequestSpec {
        self.body = body.to_vec();
        self
    }

    /// Sends the body with chunked transfer coding, in chunks of `chunk` bytes.
    pub fn chunked(mut self, chunk: usize) -> RequestSpec {
        self.framing = Framing::Chunked { chunk, trailers: Vec::new() };
        self
    }

    /// Stops the body after `n` wire bytes, then does `after`.
    pub fn cut(mut self, n: usize, after: AfterCut) -> RequestSpec {
        self.delivery.cut = Some((n, after));
        self
    }

    /// Writes the body in pieces of `piece` bytes with `pause` between them.
    pub fn paced(mut self, piece: usize, pause: Duration) -> RequestSpec {
        self.delivery.piece = Some(piece);
        self.delivery.pause = pause;
        self
    }
}

/// A predicate on one header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pred {
    /// The header is present (any value).
    Present,
    /// Equal to the template after trimming.
    Eq(String),
    /// Equal ignoring ASCII case.
    EqNoCase(String),
    /// A comma-separated list (over all fields of that name) containing this element.
    Token(String),
    /// A non-negative integer (ASCII digits only).
    UInt,
}

/// An expectation on a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The status is one of these.
    Status(Vec<u16>),
    /// The status is in this class (4 means 400..=499).
    Class(u16),
    /// The status is not 2xx (the request was refused).
    Refused,
    /// The status most servers answer, where the specification names none: another status only adds a note to
    /// the report, it never fails the step.
    Usual(u16),
    /// A header satisfies a predicate.
    Header(&'static str, Pred),
    /// A header is absent.
    Absent(&'static str),
    /// `Upload-Metadata` holds exactly these keys with these decoded values (None: empty value).
    Metadata(Vec<(&'static str, Option<&'static [u8]>)>),
    /// The stored bytes at `at` equal `bytes` (checked with the data probe, if any).
    Data {
        /// Start offset.
        at: u64,
        /// Expected bytes.
        bytes: Vec<u8>,
    },
}

/// A value taken from a response for later steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    /// The `Location` header, resolved against the request URL, into this variable.
    Location(&'static str),
    /// A header value into this variable.
    Header(&'static str, &'static str),
}

/// What a failed expectation means for the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Preparation: a failure means the scenario could not run (error).
    Setup,
    /// Precondition the server may legitimately refuse: a failure means "not applicable".
    Gate,
    /// The rule under test: a failure is a violation at the scenario's level.
    Check,
}

/// One request and what its response must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What a failure means.
    pub role: Role,
    /// The request.
    pub request: RequestSpec,
    /// Expectations on the response.
    pub expect: Vec<Expect>,
    /// Expectations judged as the rule under test ([`Role::Check`]) whatever the step's role, once `expect`
    /// held: a gate whose precondition is met still checks these.
    pub checks: Vec<Expect>,
    /// Values captured from the response.
    pub capture: Vec<Capture>,
    /// Pause before sending.
    pub delay: Duration,
}

impl Step {
    fn with_role(role: Role, request: RequestSpec) -> Step {
        Step { role, request, expect: Vec::new(), checks: Vec::new(), capture: Vec::new(), delay: Duration::ZERO }
    }

    /// A preparation step.
    pub fn setup(request: RequestSpec) -> Step {
        Step::with_role(Role::Setup, request)
    }

    /// A precondition step.
    pub fn gate(request: RequestSpec) -> Step {
        Step::with_role(Role::Gate, request)
    }

    /// A step checking the rule under test.
    pub fn check(request: RequestSpec) -> Step {
        Step::with_role(Role::Check, request)
    }

    /// Adds an expectation.
    pub fn expect(mut self, e: Expect) -> Step {
        self.expect.push(e);
        self
    }

    /// Adds an expectation judged as the rule under test even when this step is a gate or a setup step: for
    /// example, "if the server answers 412 (gate), the 412 MUST carry Tus-Version (check)".
    pub fn then_check(mut self, e: Expect) -> Step {
        self.checks.push(e);
        self
    }

    /// Expects one of these statuses.
    pub fn status(self, codes: &[u16]) -> Step {
        self.expect(Expect::Status(codes.to_vec()))
    }

    /// Expects a header to equal a template.
    pub fn header_eq(self, name: &'static str, value: &str) -> Step {
        self.expect(Expect::Header(name, Pred::Eq(value.to_string())))
    }

    /// Adds a capture.
    pub fn capture(mut self, c: Capture) -> Step {
        self.capture.push(c);
        self
    }

    /// Waits before sending.
    pub fn after(mut self, delay: Duration) -> Step {
        self.delay = delay;
        self
    }
}

/// What a custom procedure concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The rule held.
    Pass(String),
    /// The rule was broken (its meaning depends on the level).
    Violation(String),
    /// Only an observation (always informational).
    Observed(String),
    /// The scenario does not apply to this server.
    NotApplicable(String),
    /// The scenario could not be carried out.
    Error(String),
}

/// How a scenario is carried out.
#[derive(Debug, Clone)]
pub enum Procedure {
    /// Declarative steps, run in order until one fails.
    Steps(Vec<Step>),
    /// Code, for faults that need several connections or timing.
    Custom(fn(&mut Ctx<'_>) -> Outcome),
}

/// One conformance check.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Stable identifier (`core-head-cache-control`).
    pub id: &'static str,
    /// One-line description.
    pub title: &'static str,
    /// The clause checked, e.g. `tus 1.0.0 core, HEAD: Cache-Control`, and how the scenario reads it.
    pub clause: &'static str,
    /// The sentence(s) of the tus 1.0.0 text the scenario tests, word for word (non-adjacent passages joined by
    /// ` … `); [`crate::scenarios::all`] fills it in for its scenarios, empty for others unless [`Scenario::quoting`]
    /// sets it.
    pub quote: &'static str,
    /// How strictly the clause binds.
    pub level: Level,
    /// What the scenario needs to apply.
    pub requires: Vec<Requirement>,
    /// How it is carried out.
    pub procedure: Procedure,
    /// Whether its verdict depends on timing (pauses, stalls, concurrent connections, a server committing in the
    /// background): such a scenario that does not pass is run once more, and the report says so
    /// ([`crate::ScenarioResult::retried`]), so that a loaded machine cannot turn a run red by itself.
    pub timing: bool,
}

impl Scenario {
    /// A step-based scenario.
    pub fn steps(
        id: &'static str,
        title: &'static str,
        clause: &'static str,
        level: Level,
        requires: &[Requirement],
        steps: Vec<Step>,
    ) -> Scenario {
        Scenario {
            id,
            title,
            clause,
            quote: "",
            level,
            requires: requires.to_vec(),
            procedure: Procedure::Steps(steps),
            timing: false,
        }
    }

    /// A custom scenario.
    pub fn custom(
        id: &'static str,
        title: &'static str,
        clause: &'static str,
        level: Level,
        requires: &[Requirement],
        run: fn(&mut Ctx<'_>) -> Outcome,
    ) -> Scenario {
        Scenario {
            id,
            title,
            clause,
            quote: "",
            level,
            requires: requires.to_vec(),
            procedure: Procedure::Custom(run),
            timing: false,
        }
    }

    /// The same scenario, marked as depending on timing ([`Scenario::timing`]).
    pub fn timed(mut self) -> Scenario {
        self.timing = true;
        self
    }

    /// The same scenario quoting this text as the requirement it tests.
    pub fn quoting(mut self, quote: &'static str) -> Scenario {
        self.quote = quote;
        self
    }

    /// Whether it needs real sockets.
    pub fn wire_only(&self) -> bool {
        self.requires.contains(&Requirement::Wire)
    }
}
