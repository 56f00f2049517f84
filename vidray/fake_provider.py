"""Ray's fake multi-node node provider, made drivable by the cluster launcher (``ray up``,
``ray down``): the provider of ``cluster/fake-multinode.yaml``.

Ray's ``FakeMultiNodeProvider`` (``ray.autoscaler._private.fake_multi_node``) serves the
autoscaler of a head started by hand (``RAY_FAKE_CLUSTER=1 ray start --head
--autoscaling-config=...``): it lists a placeholder for that head and "launches" a worker
node by starting another raylet on this machine. Ray 2.60's launcher cannot drive it:

- ``provider: type: fake_multinode`` makes ``ray up`` load the provider's defaults from
  ``fake_multi_node/example.yaml``, which the wheel lacks (``FileNotFoundError``);
  ``type: external`` (a provider named by ``module``) gets minimal defaults instead;
- ``ray up`` (``commands.get_or_create_head_node``) finds the placeholder head, which
  carries no launch hash, decides to replace it and calls ``terminate_node`` on it; the
  provider kills ``self._nodes[id]["node"]``, which only workers have (``KeyError:
  'node'``), and then ``create_node``, which it does not implement (only the autoscaler's
  ``create_node_with_resources_and_labels``, which starts a worker raylet);
- the head's updater sets node tags (the provider refuses: read-only) and runs the head's
  commands through an SSH command runner to the node's "IP", its node id;
- ``ray down`` runs ``ray stop`` on the head, which here is this machine: it would stop
  every Ray instance on it, not this cluster only.

``LaunchableFakeProvider`` (``provider: {type: external, module:
vidray.fake_provider.LaunchableFakeProvider}``) fills those in and leaves the workers to
Ray's provider, as the autoscaler drives them. The head is this machine: it is there while
the cluster's GCS (``gcs_address``) answers or once ``ray up`` has "launched" it; its
commands run in a local shell, except ``ray stop``; terminating it stops this cluster's
processes (the head's, and the worker raylets the head's autoscaler started), found by
their GCS address, and no others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ray._common.network_utils import build_address, parse_address
from ray._private.ray_constants import (
    LABELS_ENVIRONMENT_VARIABLE,
    RESOURCES_ENVIRONMENT_VARIABLE,
)
from ray._private.services import get_node_ip_address
from ray._raylet import NODE_TYPE_NAME_ENV
from ray.autoscaler._private.command_runner import _with_environment_variables
from ray.autoscaler._private.fake_multi_node.node_provider import FakeMultiNodeProvider
from ray.autoscaler._private.subprocess_output_util import ProcessRunnerError
from ray.autoscaler.command_runner import CommandRunnerInterface
from ray.autoscaler.tags import NODE_KIND_HEAD, TAG_RAY_NODE_KIND, TAG_RAY_USER_NODE_TYPE

from vidray.cluster import proc_stat, proc_table, with_descendants

logger = logging.getLogger(__name__)

#: What ``ray up`` copies to every head, for its autoscaler; this head's start command
#: names its config itself (copied to ``~`` it would overwrite this machine's copy).
BOOTSTRAP_FILES = ("~/ray_bootstrap_config.yaml", "~/ray_bootstrap_key.pem")

#: ``ray stop`` stops every Ray instance on the machine (``ray down`` runs it on the head).
RAY_STOP = re.compile(r"\bray\s+stop\b")
#: ``ray down``'s command, alone.
JUST_RAY_STOP = re.compile(r"\s*ray\s+stop(\s+-[-\w=]+)*\s*")


class LaunchableFakeProvider(FakeMultiNodeProvider):
    """``FakeMultiNodeProvider`` whose head ``ray up`` can launch and ``ray down`` stop."""

    def __init__(self, provider_config: dict[str, Any], cluster_name: str) -> None:
        super().__init__(provider_config, cluster_name)
        # the worker raylets join this GCS (the parent's default, unless the config says)
        self.gcs_address = self._gcs_address or build_address(get_node_ip_address(), 6379)
        self._placeholder_tags = dict(self._nodes[self._head_node_id]["tags"])
        self._launched = False

    # The head: this machine's, present while its GCS answers (or launched here).

    def _head_up(self) -> bool:
        if self._launched:
            return True
        host, port = parse_address(self.gcs_address)
        with socket.socket() as s:
            s.settimeout(1.0)
            return s.connect_ex((host, int(port))) == 0

    def non_terminated_nodes(self, tag_filters):
        nodes = super().non_terminated_nodes(tag_filters)
        if self._head_node_id in nodes and not self._head_up():
            nodes.remove(self._head_node_id)
        return nodes

    def is_running(self, node_id):
        if node_id == self._head_node_id:
            return self._head_up()
        return super().is_running(node_id)

    def is_terminated(self, node_id):
        return not self.is_running(node_id)

    def set_node_tags(self, node_id, tags):
        with self.lock:
            self._nodes[node_id]["tags"].update(tags)

    def create_node_with_resources_and_labels(self, node_config, tags, count, resources, labels):
        """The autoscaler's call for workers: Ray's provider starts each as a raylet from
        this process, the head's autoscaler, which resolves the raylet's resources and
        labels from its own environment too: the head's. ``ray up`` starts the head with
        its type's resources, labels and name in it (``RAY_OVERRIDE_RESOURCES``, here
        ``{"CPU": 0}``, ``RAY_NODE_TYPE_NAME``), which would be every worker's; they are
        the worker's (none, and its type) while it starts."""
        with (
            self.lock,
            _environment(
                {
                    RESOURCES_ENVIRONMENT_VARIABLE: None,
                    LABELS_ENVIRONMENT_VARIABLE: None,
                    NODE_TYPE_NAME_ENV: tags[TAG_RAY_USER_NODE_TYPE],
                }
            ),
        ):
            return super().create_node_with_resources_and_labels(
                node_config, tags, count, resources, labels
            )

    def create_node(self, node_config, tags, count):
        """The launcher's call for a head (the autoscaler's for workers is the parent's
        ``create_node_with_resources_and_labels``): nothing to start, the head's start
        commands start it; the head is listed with the launcher's tags from now on."""
        if tags.get(TAG_RAY_NODE_KIND) != NODE_KIND_HEAD or count != 1:
            raise ValueError(f"only the head is created through create_node: {tags}, {count}")
        with self.lock:
            self._nodes[self._head_node_id] = {"tags": {**self._placeholder_tags, **tags}}
            self._launched = True

    def terminate_node(self, node_id):
        if node_id != self._head_node_id:
            return super().terminate_node(node_id)
        with self.lock:
            stop_cluster_processes(self.gcs_address)
            self._nodes[self._head_node_id] = {"tags": dict(self._placeholder_tags)}
            self._launched = False

    def get_command_runner(self, log_prefix, node_id, auth_config, cluster_name, *args, **kw):
        return LocalCommandRunner(log_prefix)


class LocalCommandRunner(CommandRunnerInterface):
    """Runs the head's commands in a local shell (the head is this machine); ``ray stop``
    is not run: it would stop every Ray on the machine, and terminating the head stops
    this cluster's processes. File mounts are copied locally."""

    def __init__(self, log_prefix: str = "") -> None:
        self.log_prefix = log_prefix

    def run(
        self,
        cmd: str | None = None,
        timeout: int = 120,
        exit_on_fail: bool = False,
        port_forward=None,
        with_output: bool = False,
        environment_variables: dict[str, object] | None = None,
        run_env: str = "auto",
        ssh_options_override_ssh_key: str = "",
        shutdown_after_run: bool = False,
    ):
        if not cmd:
            return b""
        if JUST_RAY_STOP.fullmatch(cmd):
            logger.warning(
                "%snot running %r on this machine (it would stop every Ray instance here): "
                "terminating the head stops this cluster",
                self.log_prefix,
                cmd,
            )
            return b""
        if RAY_STOP.search(cmd):
            raise ValueError(f"{cmd!r} would stop every Ray instance on this machine")
        if environment_variables:
            cmd = _with_environment_variables(cmd, environment_variables)
        final = ["bash", "-c", cmd]
        try:
            if with_output:
                return subprocess.check_output(final)
            subprocess.check_call(final)
        except subprocess.CalledProcessError as e:
            raise ProcessRunnerError(
                "Command failed", "ssh_command_failed", code=e.returncode, command=final
            ) from None
        return b""

    def run_rsync_up(self, source: str, target: str, options=None) -> None:
        if target.rstrip("/") in BOOTSTRAP_FILES:
            return
        _copy(source, os.path.expanduser(target))

    def run_rsync_down(self, source: str, target: str, options=None) -> None:
        _copy(os.path.expanduser(source), target)

    def remote_shell_command_str(self) -> str:
        return "bash"

    def run_init(self, *, as_head: bool, file_mounts: dict[str, str], sync_run_yet: bool):
        return None


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``values`` (None: unset) inside, as it was after."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            _set_env(key, value)
        yield
    finally:
        for key, value in saved.items():
            _set_env(key, value)


def _set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def _copy(source: str, target: str) -> None:
    if os.path.realpath(source.rstrip("/")) == os.path.realpath(target.rstrip("/")):
        return
    if os.path.isdir(source):
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def cluster_processes(gcs_address: str) -> list[int]:
    """The processes of the cluster whose GCS is at ``gcs_address``: every process started
    with that address (raylets, agents, the autoscaler, workers), their descendants and,
    last, the GCS server (by its port); never this process or its ancestors."""
    others, gcs = _cluster_processes(gcs_address)
    return others + gcs


def _cluster_processes(gcs_address: str) -> tuple[list[int], list[int]]:
    _, port = parse_address(gcs_address)
    gcs_mark = f"--gcs_server_port={port}\0".encode()
    table = proc_table()
    gcs = {pid for pid, (_, cmdline) in table.items() if gcs_mark in cmdline}
    named = {pid for pid, (_, cmdline) in table.items() if gcs_address.encode() in cmdline}
    found = with_descendants(named | gcs, table)
    pid = os.getpid()
    while pid > 1:
        found.discard(pid)
        pid = table.get(pid, (1, b""))[0]
    return sorted(found - gcs), sorted(found & gcs)


def stop_cluster_processes(gcs_address: str, grace: float = 10.0) -> None:
    """SIGTERM the cluster's processes, the GCS server once the others are gone (then it
    exits at once; told together with the raylets, both outwait ``grace``), and SIGKILL
    what is left ``grace`` seconds after."""
    others, gcs = _cluster_processes(gcs_address)
    for group in (others, gcs):
        _signal(group, signal.SIGTERM)
        _wait_gone(group, grace)
    _signal(others + gcs, signal.SIGKILL)
    _wait_gone(others + gcs, grace)


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(map(_alive, pids)):
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Running (a zombie has exited: its parent has yet to reap it)."""
    try:
        state = proc_stat(pid)[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
