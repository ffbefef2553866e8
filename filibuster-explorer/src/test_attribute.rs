//! What `#[filibuster::test]` expands to: a `#[test]` fn that starts the
//! test's services once with an explorer's connection, explores its body,
//! keeps its failing executions in `filibuster-regressions/` and replays
//! them first, and fails with the report's failure message. Not an API: the
//! attribute is.

use std::path::{Path, PathBuf};

use filibuster_runtime::Connection;

use super::explorer::{Explorer, TestContext, TestOutcome};
use super::fault_model::FaultModel;
use super::options::{RunOptions, Strategy};

/// The attribute's arguments, as its expansion builds them.
#[derive(Debug)]
pub struct TestOptions {
    /// `module::path::fn`, as the test harness names the test (without the
    /// crate's name).
    name: String,
    manifest_dir: PathBuf,
    fault_model: Option<ModelSource>,
    /// The exploration's options, as the explorer and the CLI take them.
    run: RunOptions,
    /// The JSON report's file (the HTML beside it), if one is written.
    report: Option<PathBuf>,
    /// `-p <package> --test <target>` (or `--lib`, `--bin <name>`): what
    /// makes `cargo test` build and run this test's target only.
    cargo_target: String,
}

#[derive(Debug)]
enum ModelSource {
    File(PathBuf),
    Value(FaultModel),
}

impl TestOptions {
    /// The defaults for the test fn `function` of the module at
    /// `module_path` (`module_path!()`), in the package at `manifest_dir`
    /// (`env!("CARGO_MANIFEST_DIR")`).
    pub fn new(module_path: &str, function: &str, manifest_dir: &str) -> Self {
        let mut segments: Vec<&str> = module_path.split("::").collect();
        let mut default_regressions = Path::new(manifest_dir).join("filibuster-regressions");
        default_regressions.extend(&segments);
        default_regressions.push(format!("{function}.json"));
        // `<target dir>/filibuster/<crate>/<module path>/<fn>.json`.
        let mut default_report = target_dir(manifest_dir).join("filibuster");
        default_report.extend(&segments);
        default_report.push(format!("{function}.json"));
        segments.remove(0);
        segments.push(function);
        Self {
            name: segments.join("::"),
            manifest_dir: manifest_dir.into(),
            fault_model: None,
            run: RunOptions {
                // `filibuster-regressions/<crate>/<module path>/<fn>.json`.
                regressions: Some(default_regressions),
                ..RunOptions::default()
            },
            report: Some(default_report),
            cargo_target: String::new(),
        }
    }

    /// `fault_model = "<file>"`: an analysis file, relative to the package.
    pub fn fault_model_file(mut self, path: &str) -> Self {
        self.fault_model = Some(ModelSource::File(self.manifest_dir.join(path)));
        self
    }

    /// `fault_model = <expression>`: a [`FaultModel`].
    pub fn fault_model(mut self, model: FaultModel) -> Self {
        self.fault_model = Some(ModelSource::Value(model));
        self
    }

    /// `max_executions = <n>`.
    pub fn max_executions(mut self, n: usize) -> Self {
        self.run.max_executions = Some(n);
        self
    }

    /// `dynamic_reduction = <bool>`.
    pub fn dynamic_reduction(mut self, on: bool) -> Self {
        self.run.dynamic_reduction = on;
        self
    }

    /// `strategy = "dfs" | "bfs"`.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.run.strategy = strategy;
        self
    }

    /// `regressions = "<file>"` (relative to the package), or `regressions
    /// = false` (`None`: keep none).
    pub fn regressions(mut self, path: Option<&str>) -> Self {
        self.run.regressions = path.map(|path| self.manifest_dir.join(path));
        self
    }

    /// The test's package and target, for the command that replays it:
    /// `package` (`CARGO_PKG_NAME`), the target's crate (`CARGO_CRATE_NAME`),
    /// whether it is an integration test, and the binary's name when it is
    /// one (`CARGO_BIN_NAME`).
    pub fn target(mut self, package: &str, krate: &str, integration_test: bool, bin: Option<&str>) -> Self {
        self.cargo_target = match (integration_test, bin) {
            (true, _) => format!("-p {package} --test {krate}"),
            (false, Some(bin)) => format!("-p {package} --bin {bin}"),
            (false, None) => format!("-p {package} --lib"),
        };
        self
    }

    /// `report = "<file>.json"` (relative to the package), or `report =
    /// false` (`None`: write none).
    pub fn report(mut self, path: Option<&str>) -> Self {
        self.report = path.map(|path| self.manifest_dir.join(path));
        self
    }

    /// `replay_first = <bool>`.
    pub fn replay_first(mut self, on: bool) -> Self {
        self.run.replay_regressions = on;
        self
    }

    /// `allow_no_calls = <bool>`.
    pub fn allow_no_calls(mut self, allow: bool) -> Self {
        self.run.allow_no_calls = allow;
        self
    }

    /// `execution_timeout = <seconds>`.
    pub fn execution_timeout(mut self, seconds: f64) -> Self {
        self.run.execution_timeout =
            Some(std::time::Duration::try_from_secs_f64(seconds).unwrap_or(std::time::Duration::MAX));
        self
    }

    /// `keep_going = <bool>`.
    pub fn keep_going(mut self, on: bool) -> Self {
        self.run.keep_going = on;
        self
    }

    /// The explorer these options describe; a fault model file that cannot
    /// be loaded fails the test with the reason.
    fn explorer(&self) -> Explorer {
        let explorer = match &self.fault_model {
            None => Explorer::new(),
            Some(ModelSource::Value(model)) => Explorer::with_fault_model(model.clone()),
            Some(ModelSource::File(path)) => match FaultModel::load(path) {
                Ok(model) => Explorer::with_fault_model(model),
                Err(error) => panic!("#[filibuster::test] {}: {error}", self.name),
            },
        };
        let mut explorer = explorer.functional_test_name(&self.name).options(self.run.clone());
        let command = format!("cargo test {} {} -- --exact", self.cargo_target, self.name);
        explorer = match &self.run.regressions {
            Some(path) => {
                let relative = path.strip_prefix(&self.manifest_dir).unwrap_or(path);
                let command = format!("{command} (replays {} first)", relative.display());
                explorer.replay_command(command)
            }
            // The exploration finds the same failing execution again.
            None => explorer.replay_command(command),
        };
        if let Some(path) = &self.report {
            explorer = explorer.report_file(path);
        }
        explorer
    }
}

/// Runs a `#[filibuster::test]`: on a new current-thread tokio runtime (as
/// `#[tokio::test]`), starts the services with `setup` once, given the
/// explorer's connection, explores `test` with them, and panics with the
/// report's failure message unless the run passed (at the attribute's
/// place in the test's file). A passing run prints its summary as the
/// test's output, which the test harness shows with `--nocapture`.
#[track_caller]
pub fn run_test<S, O>(
    options: TestOptions,
    setup: impl AsyncFnOnce(Connection) -> S,
    test: impl AsyncFn(TestContext, &S) -> O,
) where
    O: TestOutcome,
{
    let explorer = options.explorer();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("#[filibuster::test] needs a tokio runtime");
    let report = runtime.block_on(async {
        let services = setup(explorer.connection()).await;
        explorer.run(|ctx| test(ctx, &services)).await
    });
    if report.passed() {
        // Output of the test, not a diagnostic: `eprintln!` is what the
        // test harness captures (and shows with `--nocapture`), as it does
        // the prints of the test's own body.
        eprintln!(
            "#[filibuster::test] {}: passed\n{}\n\n{}{}",
            options.name,
            report.summary(),
            report.grid_table(),
            report.files_line().unwrap_or_default()
        );
    }
    report.assert_passed();
}

/// The target directory of the test binary running: the nearest of its
/// ancestors that cargo marked with `CACHEDIR.TAG` (`target/`, wherever
/// `CARGO_TARGET_DIR` or a workspace puts it), else `<package>/target`.
fn target_dir(manifest_dir: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors().skip(1).find(|dir| dir.join("CACHEDIR.TAG").is_file()).map(Path::to_path_buf)
        })
        .unwrap_or_else(|| Path::new(manifest_dir).join("target"))
}

/// The `setup` of a test that starts no services of its own (its body
/// reaches services started elsewhere, or starts them itself).
pub async fn no_services(_: Connection) {}
