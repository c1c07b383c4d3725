"""`python -m users`: serves the users subgraph where its settings say (HOST, PORT)."""

from shopkit.serve import serve
from users.config import Settings


def main() -> None:
    serve("users.app:create_app", Settings())


if __name__ == "__main__":
    main()
