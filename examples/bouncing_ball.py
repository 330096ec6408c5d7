"""A bouncing ball, differentiated with respect to its initial height and velocity.

The simulation is ordinary Python: a ``for`` loop of explicit Euler steps, and an
``if`` that reflects the ball (losing energy) when it goes below the floor. ad_transform
differentiates through the loop and the branch: the backward sweep replays the
iterations in reverse and takes, at each step, the branch the forward run took.

The derivatives of the final height with respect to the initial conditions are
printed next to central finite differences, for launches that bounce 0 to 3 times.
Last, the evaluation-trace table of a 3-step run shows the executed trace: the
iterations numbered, the branch taken at each, the bounce at step 2.
"""

from __future__ import annotations

from ad_transform import grad, trace_table


def final_height(height, velocity, steps=150, dt=0.01, gravity=9.81, restitution=0.8):
    """Height of the ball after ``steps`` Euler steps from ``height`` and ``velocity``."""
    y = height
    vy = velocity
    for _ in range(steps):
        vy = vy - gravity * dt
        y = y + vy * dt
        if y < 0.0:  # through the floor: reflect, losing energy
            y = -y * restitution
            vy = -vy * restitution
    return y


def bounces(height, velocity, steps=150, dt=0.01, gravity=9.81, restitution=0.8) -> int:
    count, y, vy = 0, height, velocity
    for _ in range(steps):
        vy = vy - gravity * dt
        y = y + vy * dt
        if y < 0.0:
            y, vy, count = -y * restitution, -vy * restitution, count + 1
    return count


def central_difference(f, args, position, eps=1e-6):
    plus, minus = list(args), list(args)
    plus[position] += eps
    minus[position] -= eps
    return (f(*plus) - f(*minus)) / (2 * eps)


def main() -> None:
    dfinal = grad(final_height, wrt=(0, 1))
    print("Final height after 1.5 s, and its derivatives: ad_transform | finite difference")
    print(
        f"{'height':>7} {'velocity':>9} {'bounces':>8} {'final':>9}   "
        f"{'d/d height':^21}   {'d/d velocity':^21}"
    )
    for height, velocity in ((8.0, 5.0), (3.0, 0.0), (1.0, 2.0), (0.5, -1.0)):
        args = (height, velocity)
        d_height, d_velocity = dfinal(*args)
        fd_height = central_difference(final_height, args, 0)
        fd_velocity = central_difference(final_height, args, 1)
        print(
            f"{height:>7.2f} {velocity:>9.2f} {bounces(*args):>8d} {final_height(*args):>9.5f}"
            f"   {d_height:>9.5f} | {fd_height:>9.5f}   {d_velocity:>9.5f} | {fd_velocity:>9.5f}"
        )
    print("\nThe executed trace of a 3-step run that bounces at step 2:\n")
    print(trace_table(final_height, 0.05, -2.0, 3, 0.02, wrt=(0, 1)))


if __name__ == "__main__":
    main()
