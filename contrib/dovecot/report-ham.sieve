# mailjobs: a message moved or copied out of Junk teaches Bayes that it is ham,
# unless it goes to the \Trash folder (deleting spam says nothing about it).
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables", "vnd.dovecot.environment", "special-use"];

if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}
if specialuse_exists "${mailbox}" "\\Trash" {
  stop;
}
set "spool" "";
set "max" "";
if environment :matches "vnd.dovecot.config.mailjobs_spool_dir" "*" { set "spool" "${1}"; }
if environment :matches "vnd.dovecot.config.mailjobs_max_kilobytes" "*" { set "max" "${1}"; }
pipe :copy "learn" ["ham", "${spool}", "${max}"];
