"""``python -m bindery.hub.proxy``: same as ``bindery proxy`` (used by ``ProxyProcess``)."""

from bindery.hub.proxy.cli import proxy_command

if __name__ == "__main__":
    proxy_command(prog_name="bindery proxy")
