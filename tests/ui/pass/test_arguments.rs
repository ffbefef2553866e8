// #[filibuster::test] with every argument, some pasted by macro_rules! (as
// invisible groups), a services fn, and a Result-returning body.
// The `#[test]` fns the attribute makes are left out of the plain build
// trybuild makes of a pass case, and their uses of these with them.
#[allow(unused_imports)]
use filibuster::{Connection, FaultModel, TestContext};

async fn start(connection: Connection) -> Vec<String> {
    let _ = connection.layer();
    vec!["http://127.0.0.1:1".to_owned()]
}

#[filibuster::test(
    services = start,
    fault_model = FaultModel::reqwest_default(),
    max_executions = 10,
    dynamic_reduction = false,
    strategy = "bfs",
    keep_going = true,
    allow_no_calls = false,
    regressions = "target/regressions.json",
    replay_first = false,
    execution_timeout = 2.5
)]
async fn everything(ctx: TestContext, urls: &Vec<String>) -> Result<(), String> {
    if ctx.fault_injected() { Err(urls.join(", ")) } else { Ok(()) }
}

macro_rules! exploring_test {
    ($name:ident, $max:literal, $file:literal, $strategy:literal) => {
        #[filibuster::test(max_executions = $max, fault_model = $file, strategy = $strategy, regressions = false)]
        async fn $name(_ctx: TestContext) {}
    };
}

exploring_test!(from_a_macro, 5, "analysis.json", "dfs");

fn main() {}
