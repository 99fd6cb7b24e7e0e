from .cli import main

if __name__ == "__main__":  # worker processes may import this module again: do not rerun the CLI
    main()
