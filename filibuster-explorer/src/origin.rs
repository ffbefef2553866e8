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
    pub token: Option<String>,
    /// Accept records without the token even once services carry it.
    pub accept_untokened: bool,
    /// A record with the token has arrived: the token is in use.
    pub in_use: bool,
    /// Records refused for lacking the token.
    pub refused: u64,
}

impl TokenPolicy {
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
