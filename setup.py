"""Package list for setuptools: the repository folders map onto one namespace
(core -> pcmachine, plugins -> pcmachine.plugins, machines -> pcmachine.machines),
and every sub-package of core/ and plugins/ is found here so none is forgotten."""

from setuptools import find_packages, setup

setup(packages=["pcmachine", "pcmachine.plugins", "pcmachine.machines"]
      + ["pcmachine." + name for name in find_packages("core")]
      + ["pcmachine.plugins." + name for name in find_packages("plugins")])
