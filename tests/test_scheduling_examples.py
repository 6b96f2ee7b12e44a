"""The scheduling examples (docs/scheduling.md) run real churnlight commands, in order.

Every ``churnlight`` call in the Airflow DAG, the crontab entry, the systemd units and the
page's code blocks must name a real command with real options (read from the Typer app, not
from its help text), give a value to each option that takes one and every required option;
each ``CHURNLIGHT_*`` variable they set must be a real setting. The DAG is checked three
ways: imported by real Airflow 3 in a venv of its own (``.ci/airflow`` installs it; Airflow's
pins conflict with churnlight's, so never in ``.venv``), its syntax tree read (the DAG, its
four tasks and their order, the failure callback), and executed here against minimal
stand-ins for Airflow's classes that accept only parameter names Airflow has, so the summary
check and the alert run for real. The systemd units are checked by ``systemd-analyze``
(``.ci/systemd`` installs it) as well as parsed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import pytest
import typer.main
from pydantic_settings import BaseSettings, SettingsConfigDict
from typer.testing import CliRunner

from churnlight.cli import app
from serving.settings import ServingSettings
from training.locks import registry_lock
from training.settings import TrainingSettings, get_training_settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
DAG_FILE = EXAMPLES / "airflow_churnlight_dag.py"
CRONTAB = EXAMPLES / "churnlight.crontab"
SERVICE = EXAMPLES / "systemd" / "churnlight-retrain.service"
TIMER = EXAMPLES / "systemd" / "churnlight-retrain.timer"
ALERT = EXAMPLES / "systemd" / "churnlight-alert@.service"
DOC = REPO / "docs" / "scheduling.md"


class ExampleTools(BaseSettings):
    """Where the tools that check the examples are (``make test`` sets the variables)."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_TEST_", extra="ignore")

    airflow_python: Path = REPO / ".venv-airflow" / "bin" / "python"
    """The interpreter of the Airflow venv: the last line ``.ci/airflow`` prints."""


ORDER = ["retrain", "features", "score"]
"""The churnlight commands a schedule runs, in this order."""
DAG_TASKS = ["retrain", "read_summary", "latest_features", "score"]


# ---- the CLI as the examples must use it ---------------------------------------------------


def _cli() -> dict[str, dict[str, Any]]:
    """Per command: its options (name -> click parameter) and its required option names."""
    group = typer.main.get_command(app)
    out = {}
    flat = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)  # a group (`alerts`): its commands
        for sub_name, sub in (subs or {}).items():
            flat[f"{name} {sub_name}"] = sub
        if not subs:
            flat[name] = command
    for name, command in flat.items():
        options = {}
        for param in command.params:
            for opt in (*param.opts, *getattr(param, "secondary_opts", [])):
                if opt.startswith("--"):
                    options[opt] = param
        required = {p.opts[0] for p in command.params if p.required and p.opts[0].startswith("--")}
        out[name] = {"options": options, "required": required}
    return out


CLI = _cli()
SHELL_OPERATORS = {";", "&&", "||", "|", ">", ">>", "<", "&", "2>", "2>>", "2>&1", "(", ")"}


def invocations(command: str) -> list[tuple[str, list[str]]]:
    """(subcommand, arguments) of every ``churnlight`` call in a shell command line.

    Arguments run until the next shell operator; Jinja placeholders (``{{ x }}``) count as one
    value."""
    command = re.sub(r"\{\{.*?\}\}", "TEMPLATE", command)
    command = re.sub(r"\$\([^)]*\)", "SUBSTITUTION", command)
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    calls = []
    for i, token in enumerate(tokens):
        in_command_position = i == 0 or tokens[i - 1] in SHELL_OPERATORS
        if Path(token).name != "churnlight" or not in_command_position or i + 1 >= len(tokens):
            continue
        first = i + 2
        if f"{tokens[i + 1]} {tokens[i + 2] if i + 2 < len(tokens) else ''}" in CLI:
            first = i + 3  # a command of a group: `churnlight alerts replay`
        args = []
        for arg in tokens[first:]:
            if arg in SHELL_OPERATORS or set(arg) <= set(";&|<>()"):
                break
            args.append(arg)
        calls.append((" ".join(tokens[i + 1 : first]), args))
    return calls


def check_invocation(subcommand: str, args: list[str], where: str) -> None:
    """A real command, real options, a value after each valued option, required ones given."""
    assert subcommand in CLI, f"{where}: `churnlight {subcommand}` is not a command"
    spec = CLI[subcommand]
    given = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, _, inline = arg.partition("=")
            assert name in spec["options"], (
                f"{where}: `churnlight {subcommand}` has no option {name}; "
                f"it has {sorted(spec['options'])}"
            )
            param = spec["options"][name]
            given.add(param.opts[0])
            if not param.is_flag and not inline:
                assert i + 1 < len(args) and not args[i + 1].startswith("--"), (
                    f"{where}: {name} of `churnlight {subcommand}` needs a value"
                )
                i += 1
        i += 1
    missing = spec["required"] - given
    assert not missing, f"{where}: `churnlight {subcommand}` lacks required {sorted(missing)}"


def check_commands(commands: list[str], where: str) -> list[str]:
    """Check every churnlight call of ``commands``; return the subcommands in order."""
    order = []
    for command in commands:
        for subcommand, args in invocations(command):
            check_invocation(subcommand, args, where)
            order.append(subcommand)
    return order


def check_settings(names: list[str], where: str) -> None:
    fields = set(TrainingSettings.model_fields) | set(ServingSettings.model_fields)
    for name in names:
        if name.startswith("CHURNLIGHT_"):
            field = name.removeprefix("CHURNLIGHT_").lower()
            assert field in fields, f"{where}: {name} is not a churnlight setting"


def test_the_invocation_checker_catches_wrong_options() -> None:
    with pytest.raises(AssertionError, match="has no option --sauce"):
        check_invocation("retrain", ["--sauce", "x"], "probe")
    with pytest.raises(AssertionError, match="lacks required"):
        check_invocation("score", ["--out", "x.parquet"], "probe")
    with pytest.raises(AssertionError, match="needs a value"):
        check_invocation("retrain", ["--source", "--quarantine"], "probe")
    with pytest.raises(AssertionError, match="is not a command"):
        check_invocation("retrian", ["--source", "x"], "probe")
    assert invocations(
        "cd /srv/churnlight && .venv/bin/churnlight retrain --source {{ a.b }} | tee f"
    ) == [("retrain", ["--source", "TEMPLATE"])]


@pytest.mark.parametrize("command", ORDER)
def test_help_of_every_scheduled_command_runs(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


# ---- the Airflow DAG -------------------------------------------------------------------------


def _strings(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound to string expressions (literals and + of them)."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            value = _string(node.value, names)
            if isinstance(target, ast.Name) and value is not None:
                names[target.id] = value
    return names


def _string(node: ast.AST, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string(node.left, names), _string(node.right, names)
        return None if left is None or right is None else left + right
    return None


def _keywords(call: ast.Call) -> dict[str, ast.AST]:
    return {k.arg: k.value for k in call.keywords if k.arg}


def _chain(node: ast.AST) -> list[str]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
        return _chain(node.left) + _chain(node.right)
    assert isinstance(node, ast.Name), ast.dump(node)
    return [node.id]


def test_the_dag_file_parses_and_defines_the_dag_with_its_tasks_in_order() -> None:
    tree = ast.parse(DAG_FILE.read_text(), filename=str(DAG_FILE))
    strings = _strings(tree)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]

    dags = [c for c in calls if c.func.id == "DAG"]  # type: ignore[union-attr]
    assert len(dags) == 1
    dag = _keywords(dags[0])
    assert _string(dag["dag_id"], strings) == "churnlight_retrain"
    schedule = _string(dag["schedule"], strings)
    assert schedule is not None and len(schedule.split()) == 5
    assert ast.literal_eval(dag["catchup"]) is False
    assert ast.literal_eval(dag["max_active_runs"]) == 1
    default_args = dag["default_args"]
    assert isinstance(default_args, ast.Dict)
    args = {
        ast.literal_eval(k): v
        for k, v in zip(default_args.keys, default_args.values, strict=True)
        if k
    }
    callback = args["on_failure_callback"]
    assert isinstance(callback, ast.Name) and callback.id in functions
    assert [a.arg for a in functions[callback.id].args.args] == ["context"]
    assert ast.literal_eval(args["retries"]) >= 1

    tasks: dict[str, tuple[str, dict[str, ast.AST]]] = {}  # variable -> (task_id, keywords)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Name) and call.func.id.endswith("Operator"):
                keywords = _keywords(call)
                task_id = _string(keywords["task_id"], strings)
                assert task_id, ast.dump(call)
                tasks[node.targets[0].id] = (task_id, keywords)  # type: ignore[attr-defined]
    chains = [
        _chain(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.BinOp)
    ]
    assert len(chains) == 1
    assert [tasks[v][0] for v in chains[0]] == DAG_TASKS

    by_id = {task_id: keywords for task_id, keywords in tasks.values()}
    commands = {}
    for task_id, keywords in by_id.items():
        if "bash_command" in keywords:
            command = _string(keywords["bash_command"], strings)
            assert command is not None, f"{task_id}: bash_command is not a plain string"
            commands[task_id] = command
    order = check_commands([commands[t] for t in DAG_TASKS if t in commands], "DAG")
    assert order == ORDER
    retrain = commands["retrain"]
    assert ast.literal_eval(by_id["retrain"]["do_xcom_push"]) is True
    if "|" in retrain:  # a pipe (tee) must not hide retrain's exit code
        assert "pipefail" in retrain
    reader = by_id["read_summary"]["python_callable"]
    assert isinstance(reader, ast.Name) and reader.id in functions
    env = by_id["retrain"]["env"]
    assert isinstance(env, ast.Name)
    env_node = next(
        n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == env.id
    )
    check_settings([ast.literal_eval(k) for k in env_node.keys], "DAG env")  # type: ignore[attr-defined]


class _Task:
    """A stand-in operator: records its arguments, refuses names Airflow does not have."""

    BASE: ClassVar[set[str]] = {
        "task_id",
        "retries",
        "retry_delay",
        "execution_timeout",
        "do_xcom_push",
        "on_failure_callback",
        "owner",
        "email",
        "pool",
        "trigger_rule",
        "doc_md",
    }
    OWN: ClassVar[set[str]] = set()

    def __init__(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - self.BASE - self.OWN
        assert not unknown, f"{type(self).__name__} has no parameter(s) {sorted(unknown)}"
        self.kwargs = kwargs
        self.task_id = kwargs["task_id"]
        self.upstream: list[_Task] = []
        _FakeDAG.current.tasks.append(self)  # type: ignore[union-attr]

    def __rshift__(self, other: _Task) -> _Task:
        other.upstream.append(self)
        return other


class _Bash(_Task):
    OWN: ClassVar[set[str]] = {
        "bash_command",
        "env",
        "append_env",
        "output_encoding",
        "skip_on_exit_code",
        "cwd",
    }


class _Python(_Task):
    OWN: ClassVar[set[str]] = {"python_callable", "op_args", "op_kwargs", "templates_dict"}


class _FakeDAG:
    current: _FakeDAG | None = None
    ALLOWED: ClassVar[set[str]] = {
        "dag_id",
        "description",
        "schedule",
        "start_date",
        "end_date",
        "catchup",
        "max_active_runs",
        "params",
        "default_args",
        "tags",
        "doc_md",
        "dagrun_timeout",
    }

    def __init__(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - self.ALLOWED
        assert not unknown, f"DAG has no parameter(s) {sorted(unknown)}"
        self.kwargs = kwargs
        self.tasks: list[_Task] = []

    def __enter__(self) -> _FakeDAG:
        _FakeDAG.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        _FakeDAG.current = None


@pytest.fixture
def dag_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """The DAG file executed against the stand-ins (Airflow 2's import paths)."""
    modules = {
        "airflow": types.ModuleType("airflow"),
        "airflow.operators": types.ModuleType("airflow.operators"),
        "airflow.operators.bash": types.ModuleType("airflow.operators.bash"),
        "airflow.operators.python": types.ModuleType("airflow.operators.python"),
    }
    modules["airflow"].DAG = _FakeDAG  # type: ignore[attr-defined]
    modules["airflow.operators.bash"].BashOperator = _Bash  # type: ignore[attr-defined]
    modules["airflow.operators.python"].PythonOperator = _Python  # type: ignore[attr-defined]
    for name in [m for m in sys.modules if m == "airflow" or m.startswith("airflow.")]:
        monkeypatch.delitem(sys.modules, name)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("churnlight_example_dag", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module


def test_the_dag_runs_against_airflow_stand_ins(dag_module: types.ModuleType) -> None:
    dag = dag_module.dag
    ids = [t.task_id for t in dag.tasks]

    assert ids == DAG_TASKS
    for before, after in pairwise(dag.tasks):
        assert after.upstream == [before]
    assert dag.kwargs["default_args"]["on_failure_callback"] is dag_module.alert_on_failure
    assert dag.tasks[1].kwargs["python_callable"] is dag_module.read_summary


def _retrain_json(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["retrain", *args], env=env)
    return result.exit_code, result.stdout.strip().splitlines()[-1]


@pytest.fixture
def store_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    get_training_settings.cache_clear()
    yield {"CHURNLIGHT_HOME": str(tmp_path / "models"), "COLUMNS": "250"}
    get_training_settings.cache_clear()


def test_the_summary_reader_accepts_done_runs_and_refuses_locked_and_failed_ones(
    dag_module: types.ModuleType, store_env: dict[str, str], tmp_path: Path
) -> None:
    done = {
        "status": "kept",
        "promoted": ["expand_180d"],
        "kept": {"churn_180d": "ROC-AUC 0.7712 is below the champion's 0.8231"},
        "as_of": "2026-02-01",
    }
    ti = types.SimpleNamespace(xcom_pull=lambda task_ids: json.dumps(done))

    summary = dag_module.read_summary(ti)

    assert summary == done
    line = dag_module.describe_summary(summary)
    assert "promoted expand_180d" in line and "kept the champion of churn_180d" in line

    # the real outputs of `churnlight retrain` when it cannot run
    with registry_lock(TrainingSettings(home=tmp_path / "models")):
        code, locked = _retrain_json(["--source", str(tmp_path)], store_env)
    assert code == 75
    with pytest.raises(ValueError, match="status 'locked'"):
        dag_module.parse_retrain_summary(locked)
    code, failed = _retrain_json(["--source", str(tmp_path / "nope")], store_env)
    assert code == 1
    with pytest.raises(ValueError, match=r"status 'failed'.*does not exist"):
        dag_module.parse_retrain_summary(failed)
    with pytest.raises(ValueError, match="not JSON"):
        dag_module.parse_retrain_summary("Traceback (most recent call last):")
    with pytest.raises(ValueError, match="no summary"):
        dag_module.parse_retrain_summary(None)


def test_the_failure_callback_explains_the_exit_code_and_posts_the_alert(
    dag_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def urlopen(request: Any, timeout: float) -> Response:
        sent.append(request)
        return Response()

    monkeypatch.setattr(dag_module.urllib.request, "urlopen", urlopen)
    monkeypatch.setenv("CHURNLIGHT_ALERT_WEBHOOK", "https://hooks.example.com/T0")
    ti = types.SimpleNamespace(task_id="retrain", dag_id="churnlight_retrain", log_url="http://x")
    context = {
        "task_instance": ti,
        "run_id": "scheduled__2026-02-02",
        "exception": RuntimeError(
            "Bash command failed. The command returned a non-zero exit code 75."
        ),
    }

    dag_module.alert_on_failure(context)

    assert len(sent) == 1
    assert sent[0].full_url == "https://hooks.example.com/T0"
    text = json.loads(sent[0].data)["text"]
    assert "task retrain of churnlight_retrain failed" in text
    assert "held the registry lock; nothing changed" in text
    context["exception"] = RuntimeError("... non-zero exit code 1.")
    assert "registry and champions are unchanged" in dag_module.alert_message(context)


AIRFLOW_PROBE = """
import importlib.util, json, sys
import airflow
spec = importlib.util.spec_from_file_location("churnlight_example_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dag = module.dag
print(json.dumps({
    "airflow": airflow.__version__,
    "dag_class": type(dag).__module__ + "." + type(dag).__qualname__,
    "dag_id": dag.dag_id,
    "task_ids": sorted(dag.task_ids),
    "upstream": {t: sorted(dag.get_task(t).upstream_task_ids) for t in dag.task_ids},
    "operators": {t: type(dag.get_task(t)).__module__ for t in dag.task_ids},
    "callback_is_alert": dag.default_args["on_failure_callback"] is module.alert_on_failure,
}))
"""
"""Run by the Airflow venv's interpreter: imports the DAG file, prints what it built."""


@pytest.mark.slow  # importing Airflow takes several seconds
def test_the_dag_imports_with_real_airflow(tmp_path: Path) -> None:
    python = ExampleTools().airflow_python
    if not python.is_file():
        pytest.fail(
            f"The Airflow interpreter {python} does not exist; install it with `.ci/airflow` "
            "(`make test` runs it; its last line is the path) or set "
            "CHURNLIGHT_TEST_AIRFLOW_PYTHON"
        )
    # -I: only Airflow's venv and the stdlib, no PYTHONPATH (the DAG must not need churnlight)
    run = subprocess.run(
        [str(python), "-I", "-c", AIRFLOW_PROBE, str(DAG_FILE)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow")},
    )
    assert run.returncode == 0, run.stderr
    built = json.loads(run.stdout.strip().splitlines()[-1])

    assert built["airflow"].startswith("3."), built["airflow"]
    assert built["dag_class"].startswith("airflow.sdk."), built["dag_class"]
    assert set(built["operators"].values()) <= {
        "airflow.providers.standard.operators.bash",
        "airflow.providers.standard.operators.python",
    }, built["operators"]
    assert built["dag_id"] == "churnlight_retrain"
    assert built["task_ids"] == sorted(DAG_TASKS)
    assert not built["upstream"][DAG_TASKS[0]]
    for before, after in pairwise(DAG_TASKS):
        assert built["upstream"][after] == [before]
    assert built["callback_is_alert"]


# ---- cron ------------------------------------------------------------------------------------

CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def test_the_crontab_entry_is_valid_and_runs_retrain_then_score() -> None:
    jobs, env = [], []
    for line in CRONTAB.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^[A-Z_][A-Z0-9_]*=", line):
            env.append(line.split("=", 1)[0])
            continue
        jobs.append(line)

    assert len(jobs) == 1
    fields = jobs[0].split(None, 5)
    for field, (low, high) in zip(fields[:5], CRON_RANGES, strict=True):
        assert CRON_FIELD.match(field), field
        for number in re.findall(r"\d+", field.split("/")[0]):
            assert low <= int(number) <= high, field
    command = fields[5]
    assert not re.search(r"(?<!\\)%", command), "cron reads an unescaped % as a newline"
    assert check_commands([command], "crontab") == ORDER
    assert re.search(r"churnlight retrain [^&|]*>> *\S+\.jsonl", command), "keep the summaries"
    assert "MAILTO" in env
    check_settings(env, "crontab")


# ---- systemd ---------------------------------------------------------------------------------


def _unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists: systemd repeats keys (ExecStart)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        assert current is not None, f"{path.name}: {line!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not Key=Value"
        sections[current].append((key.strip(), value.strip()))
    return sections


def _values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def test_the_systemd_service_runs_retrain_then_score_and_alerts_on_failure() -> None:
    unit = _unit(SERVICE)
    service = unit["Service"]

    assert _values(service, "Type") == ["oneshot"]  # ExecStart lines run in order
    starts = _values(service, "ExecStart")
    assert all(s.split()[0].startswith("/") for s in starts), "systemd needs absolute paths"
    assert check_commands(starts, "systemd service") == ORDER
    variables = [v.split("=", 1)[0] for v in _values(service, "Environment")]
    assert "CHURNLIGHT_HOME" in variables
    check_settings(variables, "systemd service")
    on_failure = _values(unit["Unit"], "OnFailure")
    assert on_failure == ["churnlight-alert@%N.service"]
    assert ALERT.exists()
    alert = _unit(ALERT)
    assert _values(alert["Service"], "Type") == ["oneshot"]
    assert "%i" in _values(alert["Service"], "ExecStart")[0]


def test_the_systemd_timer_starts_the_service_monthly() -> None:
    unit = _unit(TIMER)
    timer = unit["Timer"]

    assert _values(timer, "Unit") == [SERVICE.name]
    calendar = _values(timer, "OnCalendar")
    assert len(calendar) == 1 and re.fullmatch(r"\*-\*-\d\d \d\d:\d\d:\d\d", calendar[0])
    assert _values(timer, "Persistent") == ["true"]
    assert _values(unit["Install"], "WantedBy") == ["timers.target"]


def test_systemd_analyze_accepts_the_units(tmp_path: Path) -> None:
    """systemd's own checker on the units."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail(
            "systemd-analyze is not installed; install it with `.ci/systemd` (the Debian "
            "package systemd; `make test` runs it)"
        )
    for unit in (SERVICE, TIMER, ALERT):
        shutil.copy(unit, tmp_path / unit.name)
    units = [str(tmp_path / u.name) for u in (TIMER, SERVICE, ALERT)]
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The example's paths (/srv/churnlight/.venv) do not exist on the test machine.
    complaints = [
        line
        for line in (verify.stdout + verify.stderr).splitlines()
        if line.strip() and "/srv/churnlight/.venv/bin/churnlight is not executable" not in line
    ]
    assert not complaints, complaints
    (calendar,) = _values(_unit(TIMER)["Timer"], "OnCalendar")
    parsed = subprocess.run(
        ["systemd-analyze", "calendar", calendar], capture_output=True, text=True, timeout=60
    )
    assert parsed.returncode == 0, parsed.stderr
    assert "Next elapse" in parsed.stdout


# ---- the page --------------------------------------------------------------------------------


def test_the_scheduling_page_uses_real_options_and_is_linked() -> None:
    text = DOC.read_text()
    commands, fence = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line.removeprefix("```")
        elif fence is not None and fence != "json" and "churnlight " in line:
            commands.append(line)
    # Python code blocks hold commands as string pieces: check each churnlight call alone.
    used = check_commands([re.sub(r"[\"(),]", " ", c) for c in commands], "docs/scheduling.md")

    assert {"retrain", "features", "score"} <= set(used)
    for example in (DAG_FILE, CRONTAB, SERVICE, TIMER, ALERT):
        assert str(example.relative_to(REPO)) in text, f"scheduling.md does not show {example.name}"
    assert "docs/scheduling.md" in (REPO / "README.md").read_text()
