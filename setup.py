# Copyright 2026 The mono_depth_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Install mono_depth_ros as an ament_python package (colcon) or a plain pip package."""

from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE_NAME = 'mono_depth_ros'


def _share(*patterns: str) -> list[str]:
    files: list[str] = []
    for pattern in patterns:
        files.extend(path for path in glob(pattern) if os.path.isfile(path))
    return sorted(files)


setup(
    name=PACKAGE_NAME,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE_NAME]),
        ('share/' + PACKAGE_NAME, ['package.xml']),
        ('share/' + PACKAGE_NAME + '/launch', _share('launch/*.launch.py')),
        ('share/' + PACKAGE_NAME + '/config',
         _share('config/*.yaml', 'config/*.xml', 'config/*.rviz')),
        ('share/' + PACKAGE_NAME + '/bench', _share('bench/*.py')),
        ('share/' + PACKAGE_NAME + '/models/demo',
         _share('models/demo/*.onnx', 'models/demo/*.md', 'models/demo/*.json',
                'models/demo/*.png')),
    ],
    package_data={PACKAGE_NAME: ['py.typed']},
    install_requires=['setuptools', 'numpy', 'opencv-python-headless', 'PyYAML'],
    extras_require={
        'onnx': ['onnx', 'onnxruntime'],
        'torch': ['torch', 'transformers', 'safetensors'],
        'bags': ['rosbags', 'tqdm'],
    },
    zip_safe=True,
    maintainer='mono_depth_ros maintainers',
    maintainer_email='maintainers@mono-depth-ros.invalid',
    description='Monocular depth (Depth Anything + triangulation) for ROS 2.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'depth_node = mono_depth_ros.nodes.depth_node:main',
            'triangulation_node = mono_depth_ros.nodes.triangulation_node:main',
            'mono-depth-ros = mono_depth_ros.tools.cli:main',
            'play_bag = mono_depth_ros.tools.play_bag:main',
            'depth_lifecycle_node = mono_depth_ros.nodes.depth_lifecycle_node:main',
            'triangulation_lifecycle_node = '
            'mono_depth_ros.nodes.triangulation_lifecycle_node:main',
        ],
    },
)
