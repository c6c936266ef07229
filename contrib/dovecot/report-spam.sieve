# mailjobs: a message moved or copied into Junk teaches Bayes that it is spam.
# Dovecot IMAPSieve runs this (see 90-mailjobs-imapsieve.conf); "learn" is sieve-pipe/learn.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

pipe :copy "learn" ["spam"];
