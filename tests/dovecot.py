"""A private Dovecot IMAP server for tests: its own configuration, one mailbox user, a free loopback port.

Nothing of the system's Dovecot is used (no system service, no /etc/dovecot): the master process runs in the
foreground as a child of the test, plaintext login on 127.0.0.1 without TLS. Run as root (CI), Dovecot will
not hand a mailbox to UID 0, so the mail belongs to the ``dovecot`` system user and the instance lives in a
directory that user can reach; otherwise everything runs as the current user. ``stop()`` and ``start()``
again on the same port simulate the mail server restarting. Tests skip, saying why, when Dovecot is not
installed (``.ci/run`` installs ``dovecot-imapd``).
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USERNAME = "office"
PASSWORD = "office-password-for-tests"
DOVECOT = shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    """One running instance; ``append()`` puts mail in the way a mail server delivers it (IMAP APPEND)."""

    root: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def configure(self) -> None:
        as_root = os.geteuid() == 0
        owner = pwd.getpwnam("dovecot") if as_root else pwd.getpwuid(os.getuid())
        mail = self.root / "mail"
        for path in (self.root / "run", self.root / "state", mail):
            path.mkdir(parents=True, exist_ok=True)
        if as_root:
            self.root.chmod(0o711)
            os.chown(mail, owner.pw_uid, owner.pw_gid)
        (self.root / "passwd").write_text(
            f"{USERNAME}:{{PLAIN}}{PASSWORD}:{owner.pw_uid}:{owner.pw_gid}::{mail}/{USERNAME}::\n")
        (self.root / "passwd").chmod(0o644)
        unprivileged = "" if as_root else (
            f"default_internal_user = {owner.pw_name}\ndefault_login_user = {owner.pw_name}\n"
            f"default_internal_group = {grp.getgrgid(owner.pw_gid).gr_name}\nservice imap-login {{\n  chroot =\n}}\n")
        (self.root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = gateway-test-{self.port}
log_path = {self.root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
first_valid_uid = {min(owner.pw_uid, 500)}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
{unprivileged}""")

    def start(self) -> None:
        assert DOVECOT is not None
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""
                raise RuntimeError(f"dovecot exited at start: {output}{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the port is free again before a restart
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    time.sleep(0.1)
            except OSError:
                return

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        connection = imaplib.IMAP4(self.host, self.port, timeout=10)
        connection.login(USERNAME, PASSWORD)
        connection.select("INBOX")
        return connection

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        connection = self.client()
        try:
            status, data = connection.append(folder, None, None, raw)
            assert status == "OK", data
        finally:
            connection.logout()

    def flags(self) -> dict[int, set[str]]:
        """Every message's flags by UID."""
        connection = self.client()
        try:
            status, data = connection.uid("FETCH", "1:*", "(FLAGS)")
            assert status == "OK", data
            found: dict[int, set[str]] = {}
            for line in data:
                if not isinstance(line, bytes):
                    continue
                text = line.decode()
                uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
                found[uid] = set(text.split("FLAGS (", 1)[1].split(")", 1)[0].split())
            return found
        finally:
            connection.logout()


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    """A running private Dovecot with an empty INBOX for ``office``."""
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; .ci/run does this)")
    # Root: the mailbox belongs to the dovecot user, who cannot reach pytest's private tmp_path.
    root = Path(tempfile.mkdtemp(prefix="gateway-dovecot-")) if os.geteuid() == 0 else tmp_path / "dovecot"
    server = Dovecot(root)
    server.configure()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if os.geteuid() == 0:
            shutil.rmtree(root, ignore_errors=True)
