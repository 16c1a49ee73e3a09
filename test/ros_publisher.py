"""Synthetic streams with known dependence, published by a real rclpy node (for tests).

Scenarios (truth: I = -0.5 log(1 - rho^2) nats for the dependent pair):

- ``gaussian``: at ``--rate`` Hz (default 100), ``/<prefix>imu`` (sensor_msgs/Imu,
  stamped) ``linear_acceleration.x = x`` and ``/<prefix>cmd_vel`` (geometry_msgs/Twist,
  no header) ``linear.x = rho x + sqrt(1 - rho^2) e``, published in the same tick; and
  ``/<prefix>noise`` (std_msgs/Float64), independent of both. x, e, noise ~ N(0, 1) i.i.d.
- ``multirate``: ``/<prefix>fast`` (sensor_msgs/Imu, 200 Hz, stamped) and
  ``/<prefix>slow`` (sensor_msgs/JointState, 30 Hz, stamped, ``position[0]``). The slow
  stream samples y_k = rho u_k + sqrt(1 - rho^2) e_k at knots t_k = T0 + k / 30 with
  u_k, e_k ~ N(0, 1) i.i.d.; the fast stream is the smooth (piecewise-linear) curve
  through (t_k, u_k), sampled at 200 Hz. Linear interpolation of both onto any common
  grid gives the same weights for u and y, so aligned pairs keep correlation rho.
  ``/<prefix>noise`` (sensor_msgs/Imu, 100 Hz, stamped, ``angular_velocity.z``) is
  independent. Every topic of this scenario has a header (the node then runs on rclpy's
  EventsExecutor; ``gaussian`` has header-less topics and exercises the other executor).
- ``contact``: at ``--rate`` Hz, a binary contact switch ``/<prefix>contact``
  (std_msgs/Bool, ``data = z1 > 0``), ``/<prefix>force`` (geometry_msgs/WrenchStamped,
  ``wrench.force.z = rho z1 + sqrt(1 - rho^2) z2``) and ``/<prefix>noise`` (std_msgs/Float64,
  z3), z1, z2, z3 ~ N(0, 1) i.i.d. Truth: I(contact; force) = the sign(Z1) integral
  (0.267 nats at rho = 0.8, ``tasks.QuantisedGaussian(rho, 2, None)``), contact and force
  are independent of noise.
- ``lag_vector`` (issue 13), at ``--rate`` Hz, every topic sensor_msgs/Imu stamped
  ``T0 + k / rate``: ``/<prefix>lead`` ``linear_acceleration.x`` = x_k, an AR(1) source
  (phi 0.9, unit variance); ``/<prefix>follow`` = x_{k-D} + 0.5 e_k with D = round(--delay *
  rate) samples (lead leads follow by --delay s); ``/<prefix>twin`` = x_k + 0.5 e'_k (no
  lag); ``/<prefix>gyro`` ``angular_velocity.x/y/z`` = (1, -0.7, 0.4) x_k + 0.5 noise (a
  vector stream dependent on lead at lag 0); ``/<prefix>noise`` an independent AR(1).

Waits until every topic has a subscriber (``--wait`` s at most), prints ``publishing``,
then publishes for ``--duration`` seconds or until SIGINT/SIGTERM.
"""

import argparse
import math
import signal
import sys
import threading
import time

import numpy as np
import rclpy
from geometry_msgs.msg import Twist, WrenchStamped
from rclpy.qos import QoSProfile
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scenario', choices=['gaussian', 'multirate', 'contact', 'lag_vector'], default='gaussian')
    parser.add_argument('--rho', type=float, default=0.8)
    parser.add_argument('--rate', type=float, default=100.0, help='gaussian, contact: publish rate, Hz')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--duration', type=float, default=120.0)
    parser.add_argument('--wait', type=float, default=60.0)
    parser.add_argument('--prefix', default='/test/')
    parser.add_argument('--delay', type=float, default=0.2, help='lag_vector: lead -> follow, s')
    args, ros_args = parser.parse_known_args()

    rclpy.init(args=[sys.argv[0], *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = rclpy.create_node('synthetic_streams')
    qos = QoSProfile(depth=100)
    rng = np.random.default_rng(args.seed)
    rho, rest = args.rho, math.sqrt(1 - args.rho ** 2)
    p = args.prefix
    if args.scenario == 'gaussian':
        pubs = {'imu': node.create_publisher(Imu, p + 'imu', qos),
                'cmd_vel': node.create_publisher(Twist, p + 'cmd_vel', qos),
                'noise': node.create_publisher(Float64, p + 'noise', qos)}
    elif args.scenario == 'contact':
        pubs = {'contact': node.create_publisher(Bool, p + 'contact', qos),
                'force': node.create_publisher(WrenchStamped, p + 'force', qos),
                'noise': node.create_publisher(Float64, p + 'noise', qos)}
    elif args.scenario == 'lag_vector':
        pubs = {name: node.create_publisher(Imu, p + name, qos)
                for name in ('lead', 'follow', 'twin', 'gyro', 'noise')}
    else:
        pubs = {'fast': node.create_publisher(Imu, p + 'fast', qos),
                'slow': node.create_publisher(JointState, p + 'slow', qos),
                'noise': node.create_publisher(Imu, p + 'noise', qos)}

    deadline = time.monotonic() + args.wait
    while not stop.is_set() and any(pub.get_subscription_count() == 0 for pub in pubs.values()):
        if time.monotonic() > deadline:
            missing = [n for n, pub in pubs.items() if pub.get_subscription_count() == 0]
            print(f'no subscriber for {missing} after {args.wait} s', flush=True)
            return 1
        time.sleep(0.05)
    print('publishing', flush=True)

    def now():
        return node.get_clock().now().nanoseconds * 1e-9

    def stamp(t):
        sec = math.floor(t)
        return {'sec': int(sec), 'nanosec': min(int((t - sec) * 1e9), 999_999_999)}

    end = time.monotonic() + args.duration
    if args.scenario in ('gaussian', 'contact'):
        def gaussian_tick():
            x, e, z = rng.standard_normal(3)
            imu = Imu()
            imu.header.stamp.sec, imu.header.stamp.nanosec = stamp(now()).values()
            imu.linear_acceleration.x = float(x)
            twist = Twist()
            twist.linear.x = float(rho * x + rest * e)
            pubs['imu'].publish(imu)
            pubs['cmd_vel'].publish(twist)
            pubs['noise'].publish(Float64(data=float(z)))

        def contact_tick():
            z1, z2, z3 = rng.standard_normal(3)
            force = WrenchStamped()
            force.header.stamp.sec, force.header.stamp.nanosec = stamp(now()).values()
            force.wrench.force.z = float(rho * z1 + rest * z2)
            pubs['contact'].publish(Bool(data=bool(z1 > 0)))
            pubs['force'].publish(force)
            pubs['noise'].publish(Float64(data=float(z3)))

        publish_tick = gaussian_tick if args.scenario == 'gaussian' else contact_tick
        period = 1.0 / args.rate
        tick = time.monotonic()
        while not stop.is_set() and time.monotonic() < end:
            publish_tick()
            tick = max(tick + period, time.monotonic() - period)
            time.sleep(max(0.0, tick - time.monotonic()))
    elif args.scenario == 'lag_vector':
        delay = int(round(args.delay * args.rate))
        phi, innovation = 0.9, math.sqrt(1 - 0.9 ** 2)
        past = [0.0] * (delay + 1)     # x_{k-delay} .. x_k
        x = noise = 0.0
        t0, k = now(), 0
        period = 1.0 / args.rate
        tick = time.monotonic()
        while not stop.is_set() and time.monotonic() < end:
            x = phi * x + innovation * rng.standard_normal()
            noise = phi * noise + innovation * rng.standard_normal()
            past = past[1:] + [x]
            t = stamp(t0 + k * period).values()
            values = {'lead': x, 'follow': past[0] + 0.5 * rng.standard_normal(),
                      'twin': x + 0.5 * rng.standard_normal(), 'noise': noise}
            for name, value in values.items():
                imu = Imu()
                imu.header.stamp.sec, imu.header.stamp.nanosec = t
                imu.linear_acceleration.x = float(value)
                pubs[name].publish(imu)
            gyro = Imu()
            gyro.header.stamp.sec, gyro.header.stamp.nanosec = t
            e = 0.5 * rng.standard_normal(3)
            gyro.angular_velocity.x = float(x + e[0])
            gyro.angular_velocity.y = float(-0.7 * x + e[1])
            gyro.angular_velocity.z = float(0.4 * x + e[2])
            pubs['gyro'].publish(gyro)
            k += 1
            tick = max(tick + period, time.monotonic() - period)
            time.sleep(max(0.0, tick - time.monotonic()))
    else:
        slow_period, fast_period = 1.0 / 30.0, 1.0 / 200.0
        t0 = now()
        u = list(rng.standard_normal(2))   # knots k = 0, 1
        next_knot = 0                      # next slow sample to publish
        next_noise = t0
        tick = time.monotonic()
        while not stop.is_set() and time.monotonic() < end:
            t = now()
            k = int((t - t0) / slow_period)
            while len(u) < k + 2:
                u.append(rng.standard_normal())
            while next_knot <= k:
                js = JointState()
                tk = t0 + next_knot * slow_period
                js.header.stamp.sec, js.header.stamp.nanosec = stamp(tk).values()
                js.position = [float(rho * u[next_knot] + rest * rng.standard_normal())]
                pubs['slow'].publish(js)
                next_knot += 1
            w = (t - t0) / slow_period - k
            imu = Imu()
            imu.header.stamp.sec, imu.header.stamp.nanosec = stamp(t).values()
            imu.linear_acceleration.x = float((1 - w) * u[k] + w * u[k + 1])
            pubs['fast'].publish(imu)
            if t >= next_noise:
                noise = Imu()
                noise.header.stamp.sec, noise.header.stamp.nanosec = stamp(t).values()
                noise.angular_velocity.z = float(rng.standard_normal())
                pubs['noise'].publish(noise)
                next_noise += 0.01
            tick = max(tick + fast_period, time.monotonic() - fast_period)
            time.sleep(max(0.0, tick - time.monotonic()))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
