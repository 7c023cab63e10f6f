# Reference values from R for `itptrial design assurance` (itptrial.design.assurance).
#
# What it produces: tests/reference/assurance.json, the exact assurance and power at
# the point estimates of a two-arm trial with a binary endpoint, for a few cases
# (TARGET 020's earlier-trial rates 31/48 vs 23/56 at 70 and 150 per arm, one- and
# two-sided, unequal arms, extreme and narrow priors, a trial where the control arm
# looked better).
#
# How to run, from the repository root:
#
#   Rscript tests/reference/assurance.R
#
# Needs R with jsonlite (Debian: r-base-core, r-cran-jsonlite).  Only base R otherwise:
# the beta-binomial pmf is written out with lchoose/lbeta, the binomial one is dbinom.
# The output is deterministic (no time stamps): running the script twice gives a
# byte-identical file.  The tests read the JSON only; they never need R.
#
# Definitions (O'Hagan, Stevens & Campbell, Pharm Stat 2005;4:187-201):
# * planned trial: x1 ~ experimental arm of n1, x0 ~ control arm of n0, independent;
# * success: x1/n1 > x0/n0 and
#     sided = 2: Pearson chi-square (no continuity correction) p < alpha,
#                i.e. pchisq(z^2, 1, lower.tail = FALSE) < alpha;
#     sided = 1: pnorm(z, lower.tail = FALSE) < alpha for the signed z;
#   z^2 is Pearson's statistic (prop.test(correct = FALSE)); tables with pooled rate
#   0 or 1 are failures.  For small trials the script checks this rule against
#   prop.test(correct = FALSE) table by table and stops on any difference.
# * assurance: each rate has the Beta(1 + R, 1 + N - R) posterior from an earlier
#   trial with R responders of N; the outcome of each arm is then beta-binomial;
#   assurance = sum over (x1, x0) of BB(x1) BB(x0) [success];
# * power_at_estimate: the same sum with dbinom at the rates R/N.

library(jsonlite)

success_matrix <- function(n1, n0, alpha, sided) {
  x1 <- 0:n1
  x0 <- 0:n0
  p1 <- outer(x1 / n1, rep(1, n0 + 1))
  p0 <- outer(rep(1, n1 + 1), x0 / n0)
  pooled <- outer(x1, x0, "+") / (n1 + n0)
  defined <- pooled > 0 & pooled < 1
  se <- sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
  z <- ifelse(defined, (p1 - p0) / ifelse(defined, se, 1), 0)
  p <- if (sided == 2) {
    pchisq(z^2, df = 1, lower.tail = FALSE)
  } else {
    pnorm(z, lower.tail = FALSE)
  }
  defined & (p1 > p0) & (p < alpha)
}

check_with_prop_test <- function(n1, n0, alpha, sided, success) {
  for (a in 0:n1) {
    for (b in 0:n0) {
      m <- a + b
      expected <- FALSE
      if (m > 0 && m < n1 + n0 && a / n1 > b / n0) {
        test <- suppressWarnings(prop.test(c(a, b), c(n1, n0), correct = FALSE,
          alternative = if (sided == 2) "two.sided" else "greater"))
        expected <- test$p.value < alpha
      }
      if (expected != success[a + 1, b + 1]) {
        stop(sprintf("success rule differs from prop.test at x1=%d/%d, x0=%d/%d", a, n1, b, n0))
      }
    }
  }
}

beta_binomial_pmf <- function(n, r, total) {
  shape1 <- 1 + r
  shape2 <- 1 + total - r
  x <- 0:n
  exp(lchoose(n, x) + lbeta(x + shape1, n - x + shape2) - lbeta(shape1, shape2))
}

cases <- list(
  list(id = "target020_70", prior_experimental = c(31, 48), prior_control = c(23, 56),
       n_experimental = 70, n_control = 70, alpha = 0.05, sided = 2),
  list(id = "target020_150", prior_experimental = c(31, 48), prior_control = c(23, 56),
       n_experimental = 150, n_control = 150, alpha = 0.05, sided = 2),
  list(id = "target020_70_one_sided", prior_experimental = c(31, 48),
       prior_control = c(23, 56), n_experimental = 70, n_control = 70, alpha = 0.025,
       sided = 1),
  list(id = "unequal_arms", prior_experimental = c(31, 48), prior_control = c(23, 56),
       n_experimental = 40, n_control = 25, alpha = 0.1, sided = 2),
  list(id = "extreme_priors", prior_experimental = c(9, 10), prior_control = c(0, 5),
       n_experimental = 12, n_control = 9, alpha = 0.05, sided = 2),
  list(id = "narrow_priors", prior_experimental = c(3100, 4800),
       prior_control = c(2300, 5600), n_experimental = 70, n_control = 70, alpha = 0.05,
       sided = 2),
  list(id = "tiny", prior_experimental = c(1, 1), prior_control = c(0, 1),
       n_experimental = 3, n_control = 2, alpha = 0.2, sided = 2),
  list(id = "control_looked_better", prior_experimental = c(5, 20),
       prior_control = c(12, 20), n_experimental = 30, n_control = 30, alpha = 0.05,
       sided = 2),
  list(id = "large_unequal_one_sided", prior_experimental = c(31, 48),
       prior_control = c(23, 56), n_experimental = 500, n_control = 300, alpha = 0.01,
       sided = 1)
)

results <- lapply(cases, function(case) {
  n1 <- case$n_experimental
  n0 <- case$n_control
  s <- success_matrix(n1, n0, case$alpha, case$sided)
  if ((n1 + 1) * (n0 + 1) <= 6000) {
    check_with_prop_test(n1, n0, case$alpha, case$sided, s)
  }
  r1 <- case$prior_experimental[1]
  t1 <- case$prior_experimental[2]
  r0 <- case$prior_control[1]
  t0 <- case$prior_control[2]
  bb1 <- beta_binomial_pmf(n1, r1, t1)
  bb0 <- beta_binomial_pmf(n0, r0, t0)
  b1 <- dbinom(0:n1, n1, r1 / t1)
  b0 <- dbinom(0:n0, n0, r0 / t0)
  list(
    id = case$id,
    input = list(
      prior_experimental = case$prior_experimental,
      prior_control = case$prior_control,
      n_experimental = n1,
      n_control = n0,
      alpha = case$alpha,
      sided = case$sided
    ),
    assurance = sum(outer(bb1, bb0) * s),
    power_at_estimate = sum(outer(b1, b0) * s),
    successful_tables = sum(s)
  )
})

output <- list(
  generated_by = "tests/reference/assurance.R",
  r_version = R.version.string,
  jsonlite_version = as.character(packageVersion("jsonlite")),
  notes = c(
    "success: x1/n1 > x0/n0 and Pearson chi-square (no continuity correction) p < alpha (sided 2) or upper-tail normal p of the signed z < alpha (sided 1); pooled rate 0 or 1 fails",
    "assurance: beta-binomial outcomes under Beta(1 + R, 1 + N - R) posteriors; power_at_estimate: binomial at R/N",
    "cases with (n1 + 1)(n0 + 1) <= 6000 had the success rule checked against prop.test(correct = FALSE)"
  ),
  cases = results
)

writeLines(
  toJSON(output, auto_unbox = TRUE, digits = I(17), pretty = TRUE),
  "tests/reference/assurance.json"
)
