# @summary One job file of troubleshoot-agent, validated before it replaces anything.
#
# Puppet writes the new content to a temp file beside the target (its name does not end in
# `.yaml`, so the agent ignores it) and runs `validate_cmd` on it; `--as` checks it as the file
# it replaces, among the directory's other files (relative spec paths, names used twice). A
# refused file leaves the old one in place and the agent is not reloaded.
#
# @param content
#   The job file's text (e.g. from template()).
# @param source
#   Or a file source (puppet:///modules/...).
# @param ensure
#   `file`, or `absent` to remove the job.
define troubleshoot_agent::job (
  Optional[String] $content = undef,
  Optional[String] $source = undef,
  Enum['file', 'absent'] $ensure = 'file',
) {
  include troubleshoot_agent
  $path = "${troubleshoot_agent::jobs_dir}/${title}.yaml"

  file { $path:
    ensure       => $ensure,
    content      => $content,
    source       => $source,
    owner        => 'root',
    group        => 'root',
    mode         => '0644',
    validate_cmd => "${troubleshoot_agent::binary} validate --as ${path} %",
    require      => File[$troubleshoot_agent::jobs_dir],
    notify       => Exec['troubleshoot-agent reload'],
  }
}
