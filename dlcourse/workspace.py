"""What set-up configures beyond the packages: Jupyter for students and instructors, and the notebook git filter.

Students' JupyterLab leaves out nbgrader's instructor tools (Formgrader, Create Assignment, Course List and
the Nbgrader menu): set-up disables them in the virtual environment's own Jupyter configuration. Instructors
get them back for one session by adding :func:`instructor_config_dir` to ``JUPYTER_CONFIG_PATH`` (a higher
priority than the environment's configuration), which ``bash run.sh formgrader`` does.

Git stores notebooks without outputs through nbstripout's clean filter, so running a lecture in JupyterLab
(whose autosave keeps outputs) leaves ``git status`` clean; the filter strips exactly what
``dlcourse clean`` strips, so the stored text is the same either way.

    python -m dlcourse.workspace     configure the current environment and the course's git checkout
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from . import paths

INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                          "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:menu")
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
# Notebook metadata that Jupyter adds when it runs a notebook and that dlcourse.notebooks.clean_notebook drops
# beyond what nbstripout strips by default (cell ids are kept: they are part of the stored notebooks).
EXTRA_STRIPPED_KEYS = ("metadata.language_info.codemirror_mode", "metadata.language_info.file_extension",
                       "metadata.language_info.mimetype", "metadata.language_info.nbconvert_exporter",
                       "metadata.language_info.pygments_lexer", "metadata.language_info.version",
                       "cell.metadata.jupyter", "cell.metadata.trusted")
FILTERED_FOLDERS = ("course", "solutions", "exercises")


def environment_config_dir() -> Path:
    """The virtual environment's own Jupyter configuration folder (sys.prefix/etc/jupyter)."""
    return Path(sys.prefix) / "etc" / "jupyter"


def instructor_config_dir() -> Path:
    """A Jupyter configuration folder that turns nbgrader's instructor tools back on."""
    return Path(sys.prefix) / "etc" / "dlcourse-instructor"


def write_jupyter_config(folder: Path, instructor: bool) -> None:
    """Enable (instructor) or disable (students) nbgrader's instructor tools in one configuration folder.

    Writes labconfig/page_config.json (JupyterLab plugins) and jupyter_server_config.json (server
    extensions), keeping whatever else those files hold.
    """
    _update_json(folder / "labconfig" / "page_config.json",
                 {"disabledExtensions": {plugin: not instructor for plugin in INSTRUCTOR_LAB_PLUGINS}})
    _update_json(folder / "jupyter_server_config.json",
                 {"ServerApp": {"jpserver_extensions": {name: instructor for name in INSTRUCTOR_SERVER_EXTENSIONS}}})


def _update_json(path: Path, changes: dict) -> None:
    """Merge changes (two levels deep) into the JSON file at path, creating it if needed."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    for key, value in changes.items():
        if isinstance(value, dict):
            section = data.setdefault(key, {})
            for inner, inner_value in value.items():
                section[inner] = ({**section.get(inner, {}), **inner_value} if isinstance(inner_value, dict)
                                  else inner_value)
        else:
            data[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def install_git_filter(repo: Path) -> bool:
    """Make git store the course's notebooks through nbstripout; False when repo is not a git checkout."""
    inside = subprocess.run(["git", "-C", str(repo), "rev-parse", "--is-inside-work-tree"], capture_output=True,
                            text=True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return False
    strip = f'"{sys.executable}" -m nbstripout --keep-id'
    for key, value in (("filter.nbstripout.clean", strip), ("filter.nbstripout.smudge", "cat"),
                       ("filter.nbstripout.required", "true"), ("filter.nbstripout.extrakeys",
                                                                " ".join(EXTRA_STRIPPED_KEYS)),
                       ("diff.ipynb.textconv", f"{strip} -t")):
        subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)
    attributes = Path(subprocess.run(["git", "-C", str(repo), "rev-parse", "--git-path", "info/attributes"],
                                     capture_output=True, text=True, check=True).stdout.strip())
    attributes = attributes if attributes.is_absolute() else repo / attributes
    lines = attributes.read_text(encoding="utf-8").splitlines() if attributes.is_file() else []
    wanted = [f"{folder}/**/*.ipynb filter=nbstripout diff=ipynb" for folder in FILTERED_FOLDERS]
    attributes.parent.mkdir(parents=True, exist_ok=True)
    attributes.write_text("\n".join(lines + [line for line in wanted if line not in lines]) + "\n", encoding="utf-8")
    return True


def main() -> int:
    """Configure this environment's Jupyter (students' and instructors' folders) and the git filter."""
    write_jupyter_config(environment_config_dir(), instructor=False)
    write_jupyter_config(instructor_config_dir(), instructor=True)
    print(f"JupyterLab: nbgrader's instructor tools off for students ({environment_config_dir()}); "
          f"`bash run.sh formgrader` turns them on ({instructor_config_dir()}).")
    root = paths.project_root()
    if install_git_filter(root):
        print("git: notebooks in course/, solutions/ and exercises/ are stored without outputs (nbstripout filter).")
    else:
        print(f"git: {root} is not a git checkout; no notebook filter installed (`dlcourse clean` strips outputs).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
