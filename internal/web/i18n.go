package web

import (
	"net/http"
	"strings"
)

// messages holds the interface's words in English and French. A missing
// French entry falls back to English; a missing key shows the key, which
// the tests catch.
var messages = map[string]map[string]string{
	"en": {
		"app.tagline":   "Image and video database for identifying child victims of sexual exploitation",
		"nav.dashboard": "Dashboard", "nav.cases": "Cases", "nav.review": "Review", "nav.series": "Series and deconfliction",
		"nav.lookup": "Lookup", "nav.admin": "Administration", "nav.settings": "Settings", "nav.signout": "Sign out",
		"login.title": "Sign in", "login.name": "User name", "login.password": "Password", "login.code": "Authenticator code (if enrolled)",
		"login.submit": "Sign in", "login.failed": "Wrong user name, password or code.",
		"totp.title": "Second factor", "totp.intro": "Scan this code with an authenticator app, then enter the 6-digit code it shows.",
		"totp.secret": "Or type this key", "totp.code": "Code", "totp.submit": "Confirm",
		"dash.title": "Dashboard", "dash.victims": "Victims identified", "dash.offenders": "Offenders identified", "dash.items": "Items",
		"dash.series": "Series", "dash.agencies": "Connected agencies", "dash.bycountry": "Victims identified per country",
		"dash.byyear": "Victims identified per year", "dash.claims": "Series my agency investigates", "dash.none": "None.", "dash.recent": "My agency's recent contributions",
		"cases.title": "Cases", "cases.new": "Open a case", "cases.reference": "Reference", "cases.titlefield": "Title",
		"cases.sharing": "Sharing", "cases.sharing.agency": "My agency only (pixels)", "cases.sharing.network": "All national units",
		"cases.create": "Open", "cases.export": "Export hashes:", "cases.upload": "Add files", "cases.drop": "Drop images or videos here, or choose them",
		"cases.items": "Items", "cases.results": "Comparison results",
		"res.new": "New", "res.known": "Known", "res.near": "Near-duplicate of", "res.series": "Series", "res.claimedby": "Investigated by",
		"res.identifiedby": "Victim identified by", "res.none": "Nothing known.",
		"review.title": "Review queue", "review.help": "Keys: 0–4 category · B propose Baseline · S add to series · ←/→ or N move · Space select (or Ctrl-click, Shift-click for a range) · R reveal · O one by one",
		"review.empty": "No uncategorised item.", "review.series": "Series for S", "review.single": "One by one (O)",
		"series.title": "Series and deconfliction", "series.search": "Search series", "series.status": "Status",
		"series.claims": "Investigated by", "series.claim": "Claim for my agency", "series.release": "Release our claim",
		"series.victims": "Victims", "series.offenders": "Offenders", "series.items": "Items", "series.places": "Places",
		"series.new": "New series", "series.identified": "identified", "series.notidentified": "not identified",
		"series.addvictim": "Record a victim", "series.addoffender": "Record an offender", "series.name": "Name",
		"status.unidentified": "Unidentified", "status.under_investigation": "Under investigation", "status.victim_identified": "Victim identified",
		"media.title": "Item", "media.hashes": "Hashes", "media.metadata": "Metadata", "media.links": "Links", "media.clues": "Clues",
		"media.addclue": "Add a clue", "media.similar": "Find similar", "media.reveal": "Reveal", "media.nopixels": "The pixels of this item are not shared with your agency.",
		"lookup.title": "What is known about this?", "lookup.hash": "A hash (MD5, SHA-1, SHA-256 or PDQ)", "lookup.file": "Or a file (hashed here, not stored)",
		"lookup.submit": "Look up",
		"admin.title":   "Administration", "admin.agencies": "Agencies", "admin.users": "Users", "admin.tokens": "Industry tokens",
		"admin.baseline": "Baseline proposals", "admin.audit": "Audit trail", "admin.verify": "Verify the chain", "admin.create": "Create",
		"admin.confirm": "Confirm", "admin.onetime": "One-time password, shown once:", "admin.token": "Token, shown once:",
		"settings.title": "Settings", "settings.blur": "Blur media", "settings.grey": "Greyscale media", "settings.size": "Thumbnail size",
		"settings.lang": "Language", "settings.save": "Save",
		"cat.-1": "Uncategorised", "cat.0": "0 Non-pertinent", "cat.1": "1 CSAM", "cat.2": "2 Exploitative", "cat.3": "3 CGI/animation", "cat.4": "4 Comparison",
		"terms.warn": "Discouraged term", "terms.use": "use instead",
		"err.title": "Something went wrong", "err.forbidden": "You are not allowed to do this.", "err.notfound": "Not found.",
	},
	"fr": {
		"app.tagline":   "Base d'images et de vidéos pour l'identification des enfants victimes d'exploitation sexuelle",
		"nav.dashboard": "Tableau de bord", "nav.cases": "Affaires", "nav.review": "Revue", "nav.series": "Séries et déconfliction",
		"nav.lookup": "Recherche", "nav.admin": "Administration", "nav.settings": "Préférences", "nav.signout": "Se déconnecter",
		"login.title": "Connexion", "login.name": "Identifiant", "login.password": "Mot de passe", "login.code": "Code de l'authentificateur (si activé)",
		"login.submit": "Se connecter", "login.failed": "Identifiant, mot de passe ou code erroné.",
		"totp.title": "Second facteur", "totp.intro": "Scannez ce code avec une application d'authentification, puis saisissez le code à 6 chiffres.",
		"totp.secret": "Ou saisissez cette clé", "totp.code": "Code", "totp.submit": "Valider",
		"dash.title": "Tableau de bord", "dash.victims": "Victimes identifiées", "dash.offenders": "Auteurs identifiés", "dash.items": "Éléments",
		"dash.series": "Séries", "dash.agencies": "Services connectés", "dash.bycountry": "Victimes identifiées par pays",
		"dash.byyear": "Victimes identifiées par année", "dash.claims": "Séries traitées par mon service", "dash.none": "Aucune.", "dash.recent": "Contributions récentes de mon service",
		"cases.title": "Affaires", "cases.new": "Ouvrir une affaire", "cases.reference": "Référence", "cases.titlefield": "Intitulé",
		"cases.sharing": "Partage", "cases.sharing.agency": "Mon service seulement (images)", "cases.sharing.network": "Tous les services nationaux",
		"cases.create": "Ouvrir", "cases.export": "Exporter les empreintes :", "cases.upload": "Ajouter des fichiers", "cases.drop": "Déposez des images ou des vidéos ici, ou choisissez-les",
		"cases.items": "Éléments", "cases.results": "Résultats de la comparaison",
		"res.new": "Nouveau", "res.known": "Connu", "res.near": "Quasi-doublon de", "res.series": "Série", "res.claimedby": "Traitée par",
		"res.identifiedby": "Victime identifiée par", "res.none": "Rien de connu.",
		"review.title": "File de revue", "review.help": "Touches : 0–4 catégorie · B proposer Baseline · S ajouter à la série · ←/→ ou N déplacer · Espace sélectionner (ou Ctrl-clic, Maj-clic pour une plage) · R révéler · O un par un",
		"review.empty": "Aucun élément à catégoriser.", "review.series": "Série pour S", "review.single": "Un par un (O)",
		"series.title": "Séries et déconfliction", "series.search": "Chercher une série", "series.status": "Statut",
		"series.claims": "Traitée par", "series.claim": "Revendiquer pour mon service", "series.release": "Libérer notre revendication",
		"series.victims": "Victimes", "series.offenders": "Auteurs", "series.items": "Éléments", "series.places": "Lieux",
		"series.new": "Nouvelle série", "series.identified": "identifiée", "series.notidentified": "non identifiée",
		"series.addvictim": "Enregistrer une victime", "series.addoffender": "Enregistrer un auteur", "series.name": "Nom",
		"status.unidentified": "Non identifiée", "status.under_investigation": "En cours d'enquête", "status.victim_identified": "Victime identifiée",
		"media.title": "Élément", "media.hashes": "Empreintes", "media.metadata": "Métadonnées", "media.links": "Liens", "media.clues": "Indices",
		"media.addclue": "Ajouter un indice", "media.similar": "Chercher des similaires", "media.reveal": "Révéler", "media.nopixels": "Les images de cet élément ne sont pas partagées avec votre service.",
		"lookup.title": "Que sait-on de ceci ?", "lookup.hash": "Une empreinte (MD5, SHA-1, SHA-256 ou PDQ)", "lookup.file": "Ou un fichier (empreinte calculée ici, non conservé)",
		"lookup.submit": "Rechercher",
		"admin.title":   "Administration", "admin.agencies": "Services", "admin.users": "Utilisateurs", "admin.tokens": "Jetons des plateformes",
		"admin.baseline": "Propositions Baseline", "admin.audit": "Journal d'audit", "admin.verify": "Vérifier la chaîne", "admin.create": "Créer",
		"admin.confirm": "Confirmer", "admin.onetime": "Mot de passe à usage unique, affiché une fois :", "admin.token": "Jeton, affiché une fois :",
		"settings.title": "Préférences", "settings.blur": "Flouter les images", "settings.grey": "Images en niveaux de gris", "settings.size": "Taille des vignettes",
		"settings.lang": "Langue", "settings.save": "Enregistrer",
		"cat.-1": "Non catégorisé", "cat.0": "0 Non pertinent", "cat.1": "1 Abus sexuels d'enfants", "cat.2": "2 Exploitation", "cat.3": "3 Image de synthèse", "cat.4": "4 Comparaison",
		"terms.warn": "Terme déconseillé", "terms.use": "préférez",
		"err.title": "Une erreur est survenue", "err.forbidden": "Vous n'avez pas le droit de faire ceci.", "err.notfound": "Introuvable.",
	},
}

// lang picks the interface language: the user's setting, else the
// browser's preference, else English.
func lang(r *http.Request) string {
	if c, err := r.Cookie("ivid_lang"); err == nil && (c.Value == "fr" || c.Value == "en") {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		if strings.HasPrefix(tag, "fr") {
			return "fr"
		}
		if strings.HasPrefix(tag, "en") {
			return "en"
		}
	}
	return "en"
}

func translate(l, key string) string {
	if v, ok := messages[l][key]; ok {
		return v
	}
	if v, ok := messages["en"][key]; ok {
		return v
	}
	return key
}
