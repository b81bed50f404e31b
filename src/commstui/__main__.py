"""`python -m commstui` is the `commstui` command."""

from .cli import main

if __name__ == "__main__":
    main()
