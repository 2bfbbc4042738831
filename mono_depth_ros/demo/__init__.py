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

"""The end-to-end demo (``mono-depth-ros demo``, ``make demo``), one module per job.

``stages`` finds a model, replays the synthetic bag over DDS into the nodes, records what they
publish as a rosbag2 and scores it against the ground truth; ``figures`` draws pictures that
read on their own (title, axes, colour bar); ``contents`` composes the report's sections,
figures and captions and the commands to view the bag; ``report`` renders it as Markdown, HTML
and JSON.
"""
