"""The domain: units, hydraulics, DRA, energy and cost, simulator, planner.

Pure Python with numpy/scipy/fluids/ortools; no cloud client is imported here.
"""
