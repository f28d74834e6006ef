"""`glue image`: make your own job image (dev container or Dockerfile), try it as a fleet job
would run it, push it to the fleet's registry. The project's own images are `glue lab images`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from glue.config import Settings
from glue.registry.access import resolve

EXAMPLES = """\
workflow:
  glue image new mine                      # dev container from the executor image, io-dir ./mine-io
  glue image shell mine                    # try things interactively (root, apt works)
  glue image exec mine -- apt-get install -y bc   # or script the steps
  glue image save mine                     # image mine:<repo>.<commit> from your git checkout
  glue image test mine:<tag> --scenario s.py      # one scenario, as a fleet job runs it
  glue image push mine:<tag>               # to the fleet's registry; prints what workers pull
  glue image build images/examples/jre-python --tag jre-python:1   # from a Dockerfile instead
"""


def _write(stream: int, data: bytes) -> None:
    target = sys.stdout.buffer if stream == 1 else sys.stderr.buffer
    target.write(data)
    target.flush()


def new_command(args: argparse.Namespace) -> int:
    from glue.images import dev

    io_dir = Path(args.io or f"{args.name}-io")
    container = dev.new(args.name, args.base, io_dir)
    print(f"dev container {container.name} from {args.base}, io-dir {io_dir.resolve()} at /io")
    return 0


def shell_command(args: argparse.Namespace) -> int:
    from glue.images import dev

    dev.shell(args.name)
    return 0  # not reached: the shell replaces this process


def exec_command(args: argparse.Namespace) -> int:
    from glue.images import dev

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        print("glue: error: no command given: glue image exec NAME -- CMD ...", file=sys.stderr)
        return 2
    return dev.exec_command(args.name, argv, _write)


def save_command(args: argparse.Namespace) -> int:
    from glue.images import dev

    saved = dev.save(args.name, args.tag, args.force, Path.cwd())
    for path, count in saved.unsaved.items():
        print(
            f"glue: warning: {count} file(s) under {path} are not saved: it is a volume or mount "
            "(copy them elsewhere in the container if the image needs them)",
            file=sys.stderr,
        )
    print(saved.reference)
    return 0


def remove_command(args: argparse.Namespace) -> int:
    from glue.images import dev

    dev.remove(args.name)
    return 0


def build_command(args: argparse.Namespace) -> int:
    from glue.images import build

    buildargs = {}
    for item in args.build_arg:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"glue: error: --build-arg {item!r} is not NAME=VALUE", file=sys.stderr)
            return 2
        buildargs[key] = value
    verbose = bool(os.environ.get("SIMFLEET_VERBOSE"))
    build.build(
        Path(args.path),
        args.tag,
        buildargs,
        warn=lambda line: print(f"glue: warning: {line}", file=sys.stderr),
        log=(lambda text: sys.stdout.write(text)) if verbose else (lambda _: None),
    )
    print(args.tag)
    return 0


def test_command(args: argparse.Namespace) -> int:
    from glue.images import run
    from glue.jobs.executor import SUCCEEDED

    defaults = Settings()
    trial = run.run_scenario(
        args.image,
        Path(args.scenario),
        [Path(c) for c in args.config],
        Path(args.io) if args.io else run.default_io_root(args.image),
        args.command or defaults.command,
        args.timeout or defaults.timeout,
        args.reduce or defaults.reduce,
    )
    print(f"outcome: {trial.status}" + (f" ({trial.error})" if trial.error else ""))
    print(f"duration: {trial.seconds:.1f}s")
    print(f"log: {trial.log}")
    print(f"result: {json.dumps(trial.result)}")
    print(f"reduced: {json.dumps(trial.reduced)}")
    return 0 if trial.status == SUCCEEDED else 1


def push_command(args: argparse.Namespace) -> int:
    from glue.images import push

    access = resolve(args.registry, args.ca, args.username, args.authfile, args.registry_config)
    print(push.push(args.image, access, args.name))
    return 0


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    """Where the registry is and how to log in; shared with `glue registry`."""
    group = parser.add_argument_group(
        "registry",
        "defaults: GLUE_REGISTRY, GLUE_REGISTRY_CA, GLUE_REGISTRY_USERNAME, "
        "GLUE_REGISTRY_AUTHFILE, GLUE_REGISTRY_PASSWORD, then the settings file run.yml "
        "leaves in .cache/run/registry.yml (GLUE_REGISTRY_CONFIG names another)",
    )
    group.add_argument("--registry", metavar="HOST:PORT", help="the registry's address")
    group.add_argument("--ca", metavar="FILE", help="CA certificate that signed the registry's")
    group.add_argument("--username", help="registry login (password: GLUE_REGISTRY_PASSWORD)")
    group.add_argument("--authfile", metavar="FILE", help="Docker-style auth file with the login")
    group.add_argument("--registry-config", metavar="FILE", help="registry settings file")


def register(sub: argparse._SubParsersAction) -> None:
    image = sub.add_parser(
        "image",
        help="make, test and push your own job image",
        description="Your own job image: a dev container you work in and save, or a "
        "Dockerfile; tested as a fleet job, pushed to the fleet's registry. (The project's "
        "own images - base, node, ceph, executor - are 'glue lab images build'.)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")

    new = actions.add_parser("new", help="start a dev container from a base image")
    new.add_argument("name", metavar="NAME")
    new.add_argument(
        "--from",
        dest="base",
        default=Settings().image,
        metavar="IMAGE",
        help="base image (default: %(default)s)",
    )
    new.add_argument("--io", metavar="DIR", help="io-dir to mount at /io (default: ./NAME-io)")
    new.set_defaults(func=new_command)

    shell = actions.add_parser("shell", help="an interactive shell in a dev container (root)")
    shell.add_argument("name", metavar="NAME")
    shell.set_defaults(func=shell_command)

    execute = actions.add_parser(
        "exec", help="run one command in a dev container; its exit code is passed through"
    )
    execute.add_argument("name", metavar="NAME")
    execute.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    execute.set_defaults(func=exec_command)

    save = actions.add_parser(
        "save",
        help="commit a dev container to an image, with its base's command and user",
        description="Commit dev container NAME to image NAME:<repo>.<commit> (of the git "
        "checkout here; -dirty with uncommitted changes). Files under volume paths are not "
        "saved: they are named in a warning.",
    )
    save.add_argument("name", metavar="NAME")
    save.add_argument("--tag", help="TAG (in repository NAME) or REPOSITORY:TAG")
    save.add_argument("--force", action="store_true", help="replace an existing image")
    save.set_defaults(func=save_command)

    rm = actions.add_parser("rm", help="remove a dev container (its io-dir stays)")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(func=remove_command)

    build = actions.add_parser(
        "build",
        help="docker build with the project's local bases (BASE_IMAGE, EXECUTOR_IMAGE)",
        description="Build PATH/Dockerfile. BASE_IMAGE (the Debian base) and EXECUTOR_IMAGE "
        "(the job runtime) are passed when it declares them. Warns when a COPY --from copies "
        "from a stage of another libc (musl vs glibc).",
    )
    build.add_argument("path", metavar="PATH")
    build.add_argument("--tag", required=True, help="REPOSITORY:TAG of the image")
    build.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE")
    build.set_defaults(func=build_command)

    test = actions.add_parser(
        "test",
        help="run one scenario in an image as a fleet job would; prints outcome and result",
        description="Same executor, sandbox, io-dir, result.json and reducers as a fleet job; "
        "exit status 0 when the scenario succeeded.",
    )
    test.add_argument("image", metavar="IMAGE")
    test.add_argument("--scenario", required=True, metavar="FILE")
    test.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="a file for configs/ (repeatable)",
    )
    test.add_argument("--command", help="command (default: the run's, python3 {scenario})")
    test.add_argument("--timeout", type=int, help="seconds (default: 3600)")
    test.add_argument("--reduce", action="append", help="reducer (default: count)")
    test.add_argument(
        "--io",
        metavar="DIR",
        help="a new or empty folder for the trial, kept afterwards: DIR/io is the job's io-dir "
        "(inputs, configs, results, logs), DIR/output.log its log (default: a new temp folder)",
    )
    test.set_defaults(func=test_command)

    push = actions.add_parser(
        "push",
        help="push an image to the fleet's registry; prints the reference workers pull",
    )
    push.add_argument("image", metavar="IMAGE")
    push.add_argument("--name", metavar="REPOSITORY:TAG", help="name in the registry")
    add_registry_options(push)
    push.set_defaults(func=push_command)
