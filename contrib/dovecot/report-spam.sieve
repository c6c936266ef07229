# mailjobs: a message moved or copied into Junk teaches Bayes that it is spam.
# Dovecot IMAPSieve runs this (see 99-mailjobs-imapsieve.conf); "learn" is sieve-pipe/learn.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables", "vnd.dovecot.environment"];

set "spool" "";
set "max" "";
if environment :matches "vnd.dovecot.config.mailjobs_spool_dir" "*" { set "spool" "${1}"; }
if environment :matches "vnd.dovecot.config.mailjobs_max_kilobytes" "*" { set "max" "${1}"; }
pipe :copy "learn" ["spam", "${spool}", "${max}"];
