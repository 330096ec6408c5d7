"""A function of about 50 lines, to time the transformation itself.

A damped pendulum with a friction law that depends on the direction of motion,
integrated with a data-dependent stopping rule, followed by a few bookkeeping loops:
loops, branches, ``while``, ``break``, ``math`` calls and plenty of arithmetic, the
mix that makes the transformer work.
"""

import math


def pendulum(theta, omega, damping, steps):
    dt = 0.01
    g = 9.81
    length = 1.5
    energy = 0.0
    work = 0.0
    peak = 0.0
    for _ in range(steps):
        accel = -(g / length) * math.sin(theta) - damping * omega
        if omega > 0.0:
            accel = accel - 0.02 * omega * omega
        else:
            accel = accel + 0.02 * omega * omega
        omega_half = omega + 0.5 * dt * accel
        theta = theta + dt * omega_half
        accel_new = -(g / length) * math.sin(theta) - damping * omega_half
        omega = omega_half + 0.5 * dt * accel_new
        kinetic = 0.5 * length * length * omega * omega
        potential = g * length * (1.0 - math.cos(theta))
        energy = kinetic + potential
        work = work + damping * omega * omega * dt
        if energy > peak:
            peak = energy
        if energy < 1e-6:
            break
    total = 0.0
    scale = 1.0
    while scale > 1e-3:
        total = total + scale * math.tanh(energy * scale)
        scale = scale * 0.5
    penalty = 0.0
    for k in range(3):
        offset = theta - 0.1 * k
        if offset > 0.0:
            penalty = penalty + offset * offset
        elif offset < -1.0:
            penalty = penalty + math.exp(offset)
        else:
            penalty = penalty - 0.5 * offset
        penalty = penalty * 0.9
    smooth = math.log(1.0 + math.exp(-abs(omega))) + max(omega, 0.0)
    ratio = work / (peak + 1.0)
    spring = 0.0
    for j in range(2):
        stretch = theta - 0.5 * j
        spring = spring + 0.5 * stretch * stretch
    drag = damping * damping * 0.5 + spring * 0.01
    result = total + penalty + 0.1 * smooth + ratio * ratio + drag
    result = result + math.sqrt(1.0 + theta * theta) - math.cos(omega) * 0.25
    return result + math.atan(energy) + 0.5 * math.tanh(work) - 0.3 * math.sin(peak)


ARGS = (0.8, 0.3, 0.15, 200)
WRT = (0, 1, 2)
