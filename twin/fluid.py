"""Product properties at the flowing temperature."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from schemas.site_config import ProductConfig

__all__ = ["density_kg_m3", "kinematic_viscosity_m2_s"]

FloatArray = npt.NDArray[np.float64]


def kinematic_viscosity_m2_s(
    product: ProductConfig, temperature_degf: float | FloatArray
) -> float | FloatArray:
    """Kinematic viscosity at ``temperature_degf``.

    ``nu(T) = nu_ref * exp(-b (T - T_ref))``: over the 30-90 degF range a products line
    sees, this exponential matches the ASTM D341 double-log chart within a few percent.
    """
    delta_degf = np.asarray(temperature_degf, dtype=float) - product.reference_temperature_degf
    nu = product.viscosity_cst * 1e-6 * np.exp(-product.viscosity_temp_coeff_per_degf * delta_degf)
    return float(nu) if np.ndim(nu) == 0 else nu


def density_kg_m3(
    product: ProductConfig, temperature_degf: float | FloatArray
) -> float | FloatArray:
    """Density at ``temperature_degf`` from a linear thermal-expansion coefficient."""
    delta_degf = np.asarray(temperature_degf, dtype=float) - product.reference_temperature_degf
    rho = product.density_kg_m3 * (1.0 - product.density_temp_coeff_per_degf * delta_degf)
    return float(rho) if np.ndim(rho) == 0 else rho
