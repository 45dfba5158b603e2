"""A working copy that commits and pushes over smart HTTP to the local git server (dulwich)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dulwich import porcelain
from dulwich.repo import Repo

AUTHOR = b"Dana Developer <dana@example.com>"


class WorkRepo:
    """A repository on the git server plus a local working copy that pushes to it."""

    def __init__(
        self,
        server_root: str,
        base_url: str,
        name: str,
        branch: str = "main",
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.name, self.branch, self.auth = name, branch, auth
        self.url = f"{base_url}/{name}.git"
        bare = Path(server_root) / f"{name}.git"
        if not bare.exists():
            bare.parent.mkdir(parents=True, exist_ok=True)
            Repo.init_bare(str(bare), mkdir=True).refs.set_symbolic_ref(
                b"HEAD", f"refs/heads/{branch}".encode()
            )
        self.path = tempfile.mkdtemp(prefix=f"work-{name.replace('/', '-')}-")
        self.repo = Repo.init(self.path)
        self.repo.refs.set_symbolic_ref(b"HEAD", f"refs/heads/{branch}".encode())

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or, with None, delete) files in the working copy and stage them."""
        added = []
        for rel, content in files.items():
            full = os.path.join(self.path, rel)
            if content is None:
                if os.path.exists(full):
                    porcelain.remove(self.repo, [full])
                continue
            os.makedirs(os.path.dirname(full), exist_ok=True)
            Path(full).write_text(content)
            added.append(full)
        if added:  # staged together: the index is written once, not once per file
            porcelain.add(self.repo, added)

    def commit(
        self, message: str, files: dict[str, str | None] | None = None, committed_at: float | None = None
    ) -> str:
        """Commit what is staged (and `files`); `committed_at`: the committer's clock (unix
        seconds), e.g. a laptop's that is a day behind."""
        if files:
            self.write(files)
        sha = porcelain.commit(
            self.repo,
            message.encode(),
            author=AUTHOR,
            committer=AUTHOR,
            commit_timestamp=committed_at,
            author_timestamp=committed_at,
        )
        return sha.decode()

    def push(self, force: bool = False) -> None:
        """Push the branch (`force`: even when the server's branch is not in its history)."""
        ref = f"refs/heads/{self.branch}".encode()
        self._push(ref, force=force)

    def reset(self, sha: str) -> None:
        """git reset --hard SHA: the branch and the working copy back to a commit."""
        porcelain.reset(self.repo, "hard", sha.encode())

    def delete_branch(self) -> None:
        """git push --delete: remove the branch from the server (the local one stays)."""
        self._push(f"refs/heads/{self.branch}".encode(), delete=True)

    def _push(self, ref: bytes, **options: bool) -> None:
        with open(os.devnull, "wb") as quiet:
            porcelain.push(
                self.repo,
                self.url,
                ref,
                outstream=quiet,
                errstream=quiet,
                username=self.auth[0] if self.auth else None,
                password=self.auth[1] if self.auth else None,
                **options,
            )

    def commit_and_push(self, message: str, files: dict[str, str | None]) -> str:
        sha = self.commit(message, files)
        self.push()
        return sha
