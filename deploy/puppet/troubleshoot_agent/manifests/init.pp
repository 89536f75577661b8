# @summary Installs troubleshoot-agent and manages its job files, each validated before it lands.
#
# @param manage_package
#   Install the package. False leaves the binary to something else (the module's test copies it).
# @param package_ensure
#   The package's `ensure`.
# @param package_source
#   A local .deb to install (dpkg provider) instead of the configured repositories.
# @param binary
#   The binary `validate_cmd` runs.
# @param jobs_dir
#   The jobs directory the agent reads.
# @param jobs
#   Job files: name => parameters of troubleshoot_agent::job (`content`, `source`, `ensure`).
# @param reload_command
#   How a changed job file reaches the running agent now. The unit's ExecReload validates the
#   directory, then sends SIGHUP.
# @param manage_service
#   Keep the service running and enabled.
# @param service
#   The systemd unit's name.
#
# @example
#   class { 'troubleshoot_agent':
#     jobs => {
#       'app-daily' => { content => template('profile/troubleshoot/app-daily.yaml.erb') },
#     },
#   }
class troubleshoot_agent (
  Boolean $manage_package = true,
  String $package_ensure = 'installed',
  Optional[String] $package_source = undef,
  String $binary = '/usr/bin/troubleshoot-agent',
  String $jobs_dir = '/etc/troubleshoot/jobs.d',
  Hash[String, Hash] $jobs = {},
  String $reload_command = '/bin/systemctl reload troubleshoot-agent',
  Boolean $manage_service = true,
  String $service = 'troubleshoot-agent',
) {
  if $manage_package {
    package { 'troubleshoot-agent':
      ensure   => $package_ensure,
      provider => $package_source ? { undef => undef, default => 'dpkg' },
      source   => $package_source,
      before   => File[$jobs_dir],
    }
  }

  file { $jobs_dir:
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }

  $jobs.each |String $name, Hash $params| {
    troubleshoot_agent::job { $name:
      * => $params,
    }
  }

  # Runs once per Puppet run however many job files changed; never when none did, or when the
  # only change was refused by validate_cmd.
  exec { 'troubleshoot-agent reload':
    command     => $reload_command,
    path        => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
    refreshonly => true,
  }

  if $manage_service {
    service { $service:
      ensure => running,
      enable => true,
    }
  }
}
