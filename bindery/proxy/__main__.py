"""``python -m bindery.proxy``: same as ``bindery proxy`` (the hub's ``ProxyProcess`` runs this)."""

from bindery.proxy.cli import proxy_command

if __name__ == "__main__":
    proxy_command(prog_name="bindery proxy")
