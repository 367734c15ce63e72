"""The import graph of the `keras_vae` package: layering rules and no cycles.

Read from the source with `ast`, without importing anything. Run this file as
a script (`python tests/test_layering.py`) to print each module's imports of
other `keras_vae` modules at module level.

Edges are the `keras_vae` modules named by `import` / `from ... import`
statements: `from keras_vae.pkg import name` points at `keras_vae.pkg.name`
when that is a module, at `keras_vae.pkg` (its `__init__`) otherwise. The
implicit import of a module's parent packages is not an edge (every
submodule of a package would otherwise sit on a cycle with it).
"""

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "keras_vae"


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules():
    """`{module name: path}` of every module of the package."""
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name, paths):
    return paths[name].name == "__init__.py"


def _resolve(node, module, paths):
    """The `keras_vae` modules that one import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in paths]
    if node.level:  # relative import
        base = module if _is_package(module, paths) else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    if source not in paths:
        return []
    targets = []
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        targets.append(submodule if submodule in paths else source)
    return targets


def _statements(body, module_level):
    """Import statements of `body`: those run at import time when
    `module_level` (not inside functions), all of them otherwise."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not module_level:
                yield from _statements(node.body, module_level)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _statements([child], module_level)


def import_graph(module_level=True):
    """`{module: sorted keras_vae modules it imports}`."""
    paths = modules()
    graph = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for node in _statements(tree.body, module_level):
            targets.update(_resolve(node, module, paths))
        targets.discard(module)
        graph[module] = sorted(targets)
    return graph


def find_cycle(graph):
    """One cycle of `graph` as a list of modules, or None."""
    state = {}  # 1: on the current path, 2: done
    path = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


# === Tests ===


def test_the_graph_sees_known_imports():
    # Guards the parser: if it found nothing, the rules below could not fail.
    graph = import_graph()
    assert "keras_vae.models.base" in graph["keras_vae.models"]
    assert "keras_vae._validation" in graph["keras_vae.models.beta_vae"]
    assert "keras_vae.divergences" in graph["keras_vae.estimators"]
    assert "keras_vae.estimators" in graph["keras_vae.models.beta_tcvae"]


def test_find_cycle_detects_a_cycle():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None


def test_models_do_not_import_evaluation():
    # Models are training code; evaluation reports on them. Function-level
    # imports count too.
    graph = import_graph(module_level=False)
    offenders = {
        module: [t for t in targets if t.startswith("keras_vae.evaluation")]
        for module, targets in graph.items()
        if module.startswith("keras_vae.models")
    }
    offenders = {m: t for m, t in offenders.items() if t}
    assert not offenders, f"models import keras_vae.evaluation: {offenders}"


def test_the_package_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# Function-level imports that close a cycle, to be removed: `hub.upload_preset`
# loads the preset it publishes through `presets`, which imports `hub`.
KNOWN_LAZY_EDGES = {("keras_vae.hub", "keras_vae.presets")}


def test_no_cycle_through_function_level_imports():
    # Lazy imports of the root package (`import keras_vae` to reach the
    # public API or the class registry) are allowed; any other cycle, even
    # through an import inside a function, is a layering error.
    graph = {
        module: [t for t in targets
                 if t != "keras_vae" and (module, t) not in KNOWN_LAZY_EDGES]
        for module, targets in import_graph(module_level=False).items()
    }
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


if __name__ == "__main__":
    full = "--all" in sys.argv[1:]
    for module, targets in import_graph(module_level=not full).items():
        print(f"{module}: {', '.join(targets) or '-'}")
    print("cycle:", find_cycle(import_graph()))
