"""Every benchmark that needs no deployment, one after the other: `python -m benchmarks`.

The deploy and load benchmarks use the `stackyard` namespace images (`stackyard build` first)
and destroy any deployment on this engine. The servers and memory benchmarks measure a
deployed core cloud instead: run them by hand after a deploy (see their docstrings).
"""

from benchmarks import build, deploy, load, planning

for name, module in (("build", build), ("deploy", deploy), ("load", load), ("planning", planning)):
    print(f"== {name}")
    module.main()
