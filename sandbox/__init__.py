"""A local AWS Organization on loopback: moto's server behind our layer, plus the SSM Automation engine.

Start it with ``python -m sandbox serve --world sandbox/worlds/demo.yml``; see sandbox/README.md.
"""
