//! Where a record comes from, and whether the server takes it: a run
//! belongs to its explorer.
//!
//! `filibuster test` gives each run a random token and serves the protocol
//! both at the root and under `/run/<token>/`; services built here reach the
//! server through `FILIBUSTER_URL` (or `FILIBUSTER_TOKEN`), so their records
//! carry it. Once a record with the token has arrived, records without it
//! are refused: nobody else on the machine can add calls to the run or
//! change them. Reference (Python) services, which cannot carry a token,
//! work as long as no service carries one, or always with
//! `--accept-untokened`.

/// Where a record comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A service in the server's own process (the in-process connection).
    InProcess,
    /// Over HTTP, with the run's token.
    Tokened,
    /// Over HTTP, without a token (the reference's services, or a stranger).
    Untokened,
}

/// What the server accepts from whom.
#[derive(Clone, Debug, Default)]
pub(crate) struct TokenPolicy {
    /// The run's token, if the server has one.
    token: Option<String>,
    /// Accept records without the token even once services carry it.
    accept_untokened: bool,
    /// A record with the token has arrived: the token is in use.
    in_use: bool,
    /// Records refused for lacking the token.
    refused: u64,
}

impl TokenPolicy {
    /// Sets the run token `token`: once a record has come with it, records
    /// without it are refused unless `accept_untokened`.
    pub(crate) fn set(&mut self, token: String, accept_untokened: bool) {
        self.token = Some(token);
        self.accept_untokened = accept_untokened;
    }

    /// Whether `token` is the run's token.
    pub(crate) fn matches(&self, token: &str) -> bool {
        self.token.as_deref().is_some_and(|t| !t.is_empty() && t == token)
    }

    /// Records refused for lacking the token.
    pub(crate) fn refused(&self) -> u64 {
        self.refused
    }

    /// Whether a record from `origin` is taken; notes that the token is in
    /// use when it comes with one.
    pub(crate) fn admits(&mut self, origin: Origin) -> bool {
        match origin {
            Origin::InProcess => true,
            Origin::Tokened => {
                self.in_use = true;
                true
            }
            Origin::Untokened if self.in_use && !self.accept_untokened => {
                self.refused += 1;
                false
            }
            Origin::Untokened => true,
        }
    }
}
