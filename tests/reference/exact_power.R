# Exact power of the Pearson chi-square test without continuity correction, two-sided,
# "success" = p < alpha with the experimental rate the higher: the sum of the two
# binomial probabilities over every 2x2 outcome, each outcome tested by R's chisq.test.
# Reference for itptrial.design.exact_power (tests/test_design_power.py).
#   Rscript tests/reference/exact_power.R > tests/reference/exact_power.json
library(jsonlite)

success <- function(x1, n1, x0, n0, alpha) {
  m <- x1 + x0
  if (m == 0 || m == n1 + n0) return(FALSE)
  table <- matrix(c(x1, n1 - x1, x0, n0 - x0), nrow = 2)
  p <- suppressWarnings(chisq.test(table, correct = FALSE)$p.value)
  p < alpha && x1 / n1 > x0 / n0
}

exact_power <- function(p1, p0, n1, n0, alpha) {
  total <- 0
  for (x1 in 0:n1) for (x0 in 0:n0) {
    if (success(x1, n1, x0, n0, alpha)) total <- total + dbinom(x1, n1, p1) * dbinom(x0, n0, p0)
  }
  total
}

cases <- list(
  list(p1 = 0.646, p0 = 0.411, n1 = 48, n0 = 56, alpha = 0.05),
  list(p1 = 0.60, p0 = 0.45, n1 = 60, n0 = 60, alpha = 0.05),
  list(p1 = 0.567, p0 = 0.474, n1 = 150, n0 = 150, alpha = 0.05),
  list(p1 = 0.5, p0 = 0.5, n1 = 40, n0 = 40, alpha = 0.05),
  list(p1 = 0.3, p0 = 0.1, n1 = 25, n0 = 35, alpha = 0.01),
  list(p1 = 0.9, p0 = 0.7, n1 = 70, n0 = 70, alpha = 0.10),
  list(p1 = 0.05, p0 = 0.02, n1 = 100, n0 = 80, alpha = 0.05),
  list(p1 = 0.2, p0 = 0.4, n1 = 30, n0 = 30, alpha = 0.05)
)
for (i in seq_along(cases)) {
  k <- cases[[i]]
  cases[[i]]$power <- exact_power(k$p1, k$p0, k$n1, k$n0, k$alpha)
}
cat(toJSON(list(r_version = R.version.string, cases = cases), auto_unbox = TRUE, digits = NA, pretty = TRUE))
